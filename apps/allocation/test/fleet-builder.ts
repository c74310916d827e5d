import { inventory } from '@fleetledger/contracts';

/**
 * Builds inventory events for a synthetic fleet, shaped like inventory's own ids
 * (site `s1`, hall `s1-h01`, rack `s1-h01-r001`, node `...-n01`, GPU `...-g0`).
 * Used by the unit tests, the int tests and the benchmark.
 */

export interface RackSpec {
  gpuClass: inventory.GpuClass;
  /** Nodes in the rack (HGX: 8 GPUs each; GB200: 18 trays of 4 make one NVL72 rack). */
  nodes?: number;
  powerBudgetW?: number;
}

export interface HallSpec {
  racks: RackSpec[];
  powerCapW?: number;
}

export const NODE_POWER_W: Record<inventory.GpuClass, number> = { H100: 10_200, H200: 10_200, GB200: 7_300 };

export function fleetEvents(
  halls: HallSpec[],
  options: { siteId?: string; sitePowerCapW?: number } = {},
): inventory.InventoryEvent[] {
  const siteId = options.siteId ?? 's1';
  const events: inventory.InventoryEvent[] = [
    {
      type: 'inventory.SiteRegistered',
      payload: { siteId, name: siteId, powerCapW: options.sitePowerCapW ?? 300_000_000 },
    },
  ];
  halls.forEach((hall, h) => {
    const hallId = `${siteId}-h${String(h + 1).padStart(2, '0')}`;
    events.push({
      type: 'inventory.HallRegistered',
      payload: { hallId, siteId, name: hallId, powerCapW: hall.powerCapW ?? 100_000_000 },
    });
    hall.racks.forEach((spec, r) => {
      const rackId = `${hallId}-r${String(r + 1).padStart(3, '0')}`;
      const facts = inventory.gpuClassFacts[spec.gpuClass];
      const nodeCount = spec.nodes ?? (facts.form === 'nvl72' ? 18 : 4);
      const nvl = facts.form === 'nvl72' ? inventory.nvlinkDomainOfRack(rackId) : null;
      const budget = spec.powerBudgetW ?? nodeCount * NODE_POWER_W[spec.gpuClass];
      events.push({
        type: 'inventory.RackRegistered',
        payload: {
          rackId,
          hallId,
          siteId,
          gpuClass: spec.gpuClass,
          form: facts.form,
          nvlinkDomain: nvl,
          powerBudgetW: budget,
        },
      });
      const nodes = Array.from({ length: nodeCount }, (_, n) => {
        const nodeId = `${rackId}-n${String(n + 1).padStart(2, '0')}`;
        return {
          nodeId,
          nominalPowerW: NODE_POWER_W[spec.gpuClass],
          gpus: Array.from({ length: facts.gpusPerNode }, (_, g) => ({
            gpuId: `${nodeId}-g${g}`,
            memoryGb: facts.memoryGb,
            nvlinkDomain: nvl ?? inventory.nvlinkDomainOfNode(nodeId),
            health: 'healthy' as const,
          })),
        };
      });
      events.push({
        type: 'inventory.NodesCommissioned',
        payload: {
          rackId,
          hallId,
          siteId,
          gpuClass: spec.gpuClass,
          nodes,
          rackDrawW: nodeCount * NODE_POWER_W[spec.gpuClass],
        },
      });
    });
  });
  return events;
}

export const rackId = (hall: number, rack: number, siteId = 's1') =>
  `${siteId}-h${String(hall).padStart(2, '0')}-r${String(rack).padStart(3, '0')}`;
export const nodeId = (hall: number, rack: number, node: number) =>
  `${rackId(hall, rack)}-n${String(node).padStart(2, '0')}`;
export const gpuId = (hall: number, rack: number, node: number, gpu: number) =>
  `${nodeId(hall, rack, node)}-g${gpu}`;
