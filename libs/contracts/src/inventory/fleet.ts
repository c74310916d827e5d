import { z } from 'zod';

/**
 * Shared vocabulary of the physical fleet: GPU classes, health states, ids and power units.
 *
 * Power is carried in whole watts (integers): budgets and draws are summed over thousands of racks,
 * and integer sums are exact where kW floats would drift (the same reason money is integer minor
 * units). 300 MW = 300_000_000 W is far inside the safe integer range.
 */

export const gpuClasses = ['H100', 'H200', 'GB200'] as const;
export const gpuClassSchema = z.enum(gpuClasses);
export type GpuClass = z.infer<typeof gpuClassSchema>;

/**
 * The effective state of one GPU, as allocation should see it:
 * - healthy / degraded / failed: the last health reported for it (see `reportedHealthSchema`);
 * - draining: its node or rack is drained for maintenance (its reported health is kept underneath);
 * - decommissioned: its node left the fleet for good.
 * Only `healthy` GPUs are available for new placements.
 */
export const gpuHealthStates = ['healthy', 'degraded', 'failed', 'draining', 'decommissioned'] as const;
export const gpuHealthSchema = z.enum(gpuHealthStates);
export type GpuHealth = z.infer<typeof gpuHealthSchema>;

/** What a node agent or an operator may report about a GPU. Draining and decommissioning are commands of their own. */
export const reportedHealthStates = ['healthy', 'degraded', 'failed'] as const;
export const reportedHealthSchema = z.enum(reportedHealthStates);
export type ReportedHealth = z.infer<typeof reportedHealthSchema>;

/** How a rack is built: HGX racks hold nodes of 8 GPUs (one NVLink domain per node); NVL72 racks are one 72-GPU NVLink domain. */
export const rackFormSchema = z.enum(['hgx', 'nvl72']);
export type RackForm = z.infer<typeof rackFormSchema>;

export const powerScopeSchema = z.enum(['site', 'hall', 'rack']);
export type PowerScope = z.infer<typeof powerScopeSchema>;

/**
 * Ids are readable and hierarchical: site `col1`, hall `col1-h01`, rack `col1-h01-r001`,
 * node `col1-h01-r001-n01`, GPU `col1-h01-r001-n01-g0`, NVLink domain `col1-h01-r001-n01-nvl` (HGX)
 * or `col1-h01-r001-nvl72` (GB200). Consumers must treat them as opaque strings.
 */
export const fleetIdSchema = z
  .string()
  .min(1)
  .max(120)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes');

export const wattsSchema = z.number().int().nonnegative();

/** Facts of each GPU class that every service may rely on. */
export const gpuClassFacts: Readonly<
  Record<GpuClass, { form: RackForm; gpusPerNode: number; memoryGb: number }>
> = {
  H100: { form: 'hgx', gpusPerNode: 8, memoryGb: 80 },
  H200: { form: 'hgx', gpusPerNode: 8, memoryGb: 141 },
  // A GB200 NVL72 rack: 18 compute trays ("nodes") of 4 Blackwell GPUs, all 72 in one NVLink domain.
  GB200: { form: 'nvl72', gpusPerNode: 4, memoryGb: 186 },
};

export function nvlinkDomainOfRack(rackId: string): string {
  return `${rackId}-nvl72`;
}

export function nvlinkDomainOfNode(nodeId: string): string {
  return `${nodeId}-nvl`;
}

/** Event stream ids of the inventory log. Events of one rack (its nodes and GPUs included) share one stream, so they stay ordered in one Kafka partition. */
export const inventoryStreams = {
  site: (siteId: string) => `inventory-site-${siteId}`,
  hall: (hallId: string) => `inventory-hall-${hallId}`,
  rack: (rackId: string) => `inventory-rack-${rackId}`,
} as const;
