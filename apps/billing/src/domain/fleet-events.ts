import type { inventory } from '@fleetledger/contracts';
import { isAvailable } from './availability';

/** One GPU's effective health as an inventory event states it. */
export interface GpuHealthFact {
  gpuId: string;
  rackId: string;
  hallId: string;
  gpuClass: string;
  available: boolean;
}

/**
 * The GPU health facts an inventory event states (inventory puts each GPU's effective health in its events,
 * so billing never re-derives drain and decommission rules). Events without health facts give none.
 */
export function gpuHealthFacts(event: inventory.InventoryEvent): GpuHealthFact[] {
  switch (event.type) {
    case 'inventory.NodesCommissioned': {
      const { rackId, hallId, gpuClass } = event.payload;
      return event.payload.nodes.flatMap((node) =>
        node.gpus.map((gpu) => ({
          gpuId: gpu.gpuId,
          rackId,
          hallId,
          gpuClass,
          available: isAvailable(gpu.health),
        })),
      );
    }
    case 'inventory.GpuHealthChanged': {
      const { gpuId, rackId, hallId, gpuClass, health } = event.payload;
      return [{ gpuId, rackId, hallId, gpuClass, available: isAvailable(health) }];
    }
    case 'inventory.NodeDrainStarted':
    case 'inventory.RackDrainStarted':
    case 'inventory.NodeDecommissioned': {
      const { rackId, hallId, gpuClass } = event.payload;
      return event.payload.gpuIds.map((gpuId) => ({ gpuId, rackId, hallId, gpuClass, available: false }));
    }
    case 'inventory.NodeUndrained':
    case 'inventory.RackUndrained': {
      const { rackId, hallId, gpuClass } = event.payload;
      return event.payload.gpus.map((gpu) => ({
        gpuId: gpu.gpuId,
        rackId,
        hallId,
        gpuClass,
        available: isAvailable(gpu.health),
      }));
    }
    default:
      return [];
  }
}

export const FLEET_HEALTH_EVENT_TYPES = new Set<string>([
  'inventory.NodesCommissioned',
  'inventory.GpuHealthChanged',
  'inventory.NodeDrainStarted',
  'inventory.RackDrainStarted',
  'inventory.NodeDecommissioned',
  'inventory.NodeUndrained',
  'inventory.RackUndrained',
]);
