import { z } from 'zod';
import { defineEvent, EventDefinition, PayloadOf } from '../event-definition';
import {
  fleetIdSchema,
  gpuClassSchema,
  gpuHealthSchema,
  powerScopeSchema,
  rackFormSchema,
  reportedHealthSchema,
  wattsSchema,
} from './fleet';
import { watermarkPayloadSchema } from '../progress';

/**
 * Events of the inventory service, published on Topics.inventoryEvents with the stream id as key
 * (see `inventoryStreams`: one stream per site, hall and rack; node and GPU events travel on their
 * rack's stream). Every payload carries the ids of the places above it (rack, hall, site) and the
 * GPU class, so a consumer can keep its own view of the fleet without asking inventory.
 *
 * Power is in whole watts. A GPU's effective health after each event is stated in the event
 * (`health` fields), so consumers never have to recompute drain and decommission rules.
 */

const reasonSchema = z.string().min(1).max(500);

export const SiteRegistered = defineEvent({
  type: 'inventory.SiteRegistered',
  schema: z.object({
    siteId: fleetIdSchema,
    name: z.string().min(1),
    /** Site power cap: the sum of the nominal draw of every commissioned node may not exceed it. */
    powerCapW: wattsSchema,
  }),
});

export const HallRegistered = defineEvent({
  type: 'inventory.HallRegistered',
  schema: z.object({
    hallId: fleetIdSchema,
    siteId: fleetIdSchema,
    name: z.string().min(1),
    /** Hall power cap: no commissioning beyond it. */
    powerCapW: wattsSchema,
  }),
});

export const RackRegistered = defineEvent({
  type: 'inventory.RackRegistered',
  schema: z.object({
    rackId: fleetIdSchema,
    hallId: fleetIdSchema,
    siteId: fleetIdSchema,
    /** Every node of a rack holds GPUs of this class. */
    gpuClass: gpuClassSchema,
    form: rackFormSchema,
    /** NVL72 racks are one NVLink domain (this id); HGX racks have one domain per node, so null here. */
    nvlinkDomain: fleetIdSchema.nullable(),
    powerBudgetW: wattsSchema,
  }),
});

export const commissionedGpuSchema = z.object({
  gpuId: fleetIdSchema,
  memoryGb: z.number().int().positive(),
  nvlinkDomain: fleetIdSchema,
  /** `healthy`, or `draining` when commissioned into a drained rack. */
  health: gpuHealthSchema,
});

export const commissionedNodeSchema = z.object({
  nodeId: fleetIdSchema,
  nominalPowerW: wattsSchema,
  gpus: z.array(commissionedGpuSchema).min(1),
});

export const NodesCommissioned = defineEvent({
  type: 'inventory.NodesCommissioned',
  schema: z.object({
    rackId: fleetIdSchema,
    hallId: fleetIdSchema,
    siteId: fleetIdSchema,
    gpuClass: gpuClassSchema,
    nodes: z.array(commissionedNodeSchema).min(1),
    /** Nominal draw of the rack once these nodes are in. */
    rackDrawW: wattsSchema,
  }),
});

export const GpuHealthChanged = defineEvent({
  type: 'inventory.GpuHealthChanged',
  schema: z.object({
    gpuId: fleetIdSchema,
    nodeId: fleetIdSchema,
    rackId: fleetIdSchema,
    hallId: fleetIdSchema,
    gpuClass: gpuClassSchema,
    from: reportedHealthSchema,
    to: reportedHealthSchema,
    /** Effective health after the change: `to`, unless the GPU is draining. */
    health: gpuHealthSchema,
    reason: reasonSchema,
  }),
});

export const NodeDrainStarted = defineEvent({
  type: 'inventory.NodeDrainStarted',
  schema: z.object({
    nodeId: fleetIdSchema,
    rackId: fleetIdSchema,
    hallId: fleetIdSchema,
    gpuClass: gpuClassSchema,
    /** Every GPU of the node: all are `draining` now. */
    gpuIds: z.array(fleetIdSchema),
    reason: reasonSchema,
  }),
});

const gpuAfterUndrainSchema = z.object({
  gpuId: fleetIdSchema,
  nodeId: fleetIdSchema,
  health: gpuHealthSchema,
});

export const NodeUndrained = defineEvent({
  type: 'inventory.NodeUndrained',
  schema: z.object({
    nodeId: fleetIdSchema,
    rackId: fleetIdSchema,
    hallId: fleetIdSchema,
    gpuClass: gpuClassSchema,
    /** Each GPU of the node with its effective health now (its reported health, or still `draining` if the rack is drained). */
    gpus: z.array(gpuAfterUndrainSchema),
    reason: reasonSchema,
  }),
});

export const RackDrainStarted = defineEvent({
  type: 'inventory.RackDrainStarted',
  schema: z.object({
    rackId: fleetIdSchema,
    hallId: fleetIdSchema,
    gpuClass: gpuClassSchema,
    /** Nodes in service in the rack (decommissioned ones left out): all their GPUs are `draining` now. */
    nodeIds: z.array(fleetIdSchema),
    gpuIds: z.array(fleetIdSchema),
    reason: reasonSchema,
  }),
});

export const RackUndrained = defineEvent({
  type: 'inventory.RackUndrained',
  schema: z.object({
    rackId: fleetIdSchema,
    hallId: fleetIdSchema,
    gpuClass: gpuClassSchema,
    /** Each GPU in service in the rack with its effective health now (still `draining` if its node is drained). */
    gpus: z.array(gpuAfterUndrainSchema),
    reason: reasonSchema,
  }),
});

export const NodeDecommissioned = defineEvent({
  type: 'inventory.NodeDecommissioned',
  schema: z.object({
    nodeId: fleetIdSchema,
    rackId: fleetIdSchema,
    hallId: fleetIdSchema,
    siteId: fleetIdSchema,
    gpuClass: gpuClassSchema,
    /** All `decommissioned` now, for good; their ids are never reused. */
    gpuIds: z.array(fleetIdSchema),
    releasedPowerW: wattsSchema,
    /** Nominal draw of the rack without this node. */
    rackDrawW: wattsSchema,
    reason: reasonSchema,
  }),
});

export const PowerBudgetChanged = defineEvent({
  type: 'inventory.PowerBudgetChanged',
  schema: z.object({
    scope: powerScopeSchema,
    /** Id of the site, hall or rack whose budget changed. */
    scopeId: fleetIdSchema,
    siteId: fleetIdSchema,
    /** The hall of a hall or rack scope; null for a site. */
    hallId: fleetIdSchema.nullable(),
    fromW: wattsSchema,
    toW: wattsSchema,
    reason: reasonSchema,
  }),
});

/**
 * Inventory's progress on one partition of its events topic (issue #22, libs/contracts/src/progress.ts):
 * every inventory event (health, drains, commissioning) with an effective time before `watermark` is
 * already published. Billing waits for it before it finalizes SLA credits computed from health events.
 * Stream `inventory-watermark-p<partition>[-<n>]`, whose key Kafka routes to that partition.
 */
export const PartitionWatermarkAdvanced = defineEvent({
  type: 'inventory.PartitionWatermarkAdvanced',
  schema: watermarkPayloadSchema,
});

export type SiteRegisteredPayload = PayloadOf<typeof SiteRegistered>;
export type HallRegisteredPayload = PayloadOf<typeof HallRegistered>;
export type RackRegisteredPayload = PayloadOf<typeof RackRegistered>;
export type NodesCommissionedPayload = PayloadOf<typeof NodesCommissioned>;
export type CommissionedNode = z.infer<typeof commissionedNodeSchema>;
export type CommissionedGpu = z.infer<typeof commissionedGpuSchema>;
export type GpuHealthChangedPayload = PayloadOf<typeof GpuHealthChanged>;
export type NodeDrainStartedPayload = PayloadOf<typeof NodeDrainStarted>;
export type NodeUndrainedPayload = PayloadOf<typeof NodeUndrained>;
export type RackDrainStartedPayload = PayloadOf<typeof RackDrainStarted>;
export type RackUndrainedPayload = PayloadOf<typeof RackUndrained>;
export type NodeDecommissionedPayload = PayloadOf<typeof NodeDecommissioned>;
export type PowerBudgetChangedPayload = PayloadOf<typeof PowerBudgetChanged>;
export type PartitionWatermarkAdvancedPayload = PayloadOf<typeof PartitionWatermarkAdvanced>;

export const allInventoryEvents: readonly EventDefinition[] = [
  SiteRegistered,
  HallRegistered,
  RackRegistered,
  NodesCommissioned,
  GpuHealthChanged,
  NodeDrainStarted,
  NodeUndrained,
  RackDrainStarted,
  RackUndrained,
  NodeDecommissioned,
  PowerBudgetChanged,
  PartitionWatermarkAdvanced,
];

/** A typed inventory event, discriminated by `type` (for switch statements in evolve and projections). */
export type InventoryEvent =
  | { type: typeof SiteRegistered.type; payload: SiteRegisteredPayload }
  | { type: typeof HallRegistered.type; payload: HallRegisteredPayload }
  | { type: typeof RackRegistered.type; payload: RackRegisteredPayload }
  | { type: typeof NodesCommissioned.type; payload: NodesCommissionedPayload }
  | { type: typeof GpuHealthChanged.type; payload: GpuHealthChangedPayload }
  | { type: typeof NodeDrainStarted.type; payload: NodeDrainStartedPayload }
  | { type: typeof NodeUndrained.type; payload: NodeUndrainedPayload }
  | { type: typeof RackDrainStarted.type; payload: RackDrainStartedPayload }
  | { type: typeof RackUndrained.type; payload: RackUndrainedPayload }
  | { type: typeof NodeDecommissioned.type; payload: NodeDecommissionedPayload }
  | { type: typeof PowerBudgetChanged.type; payload: PowerBudgetChangedPayload }
  | { type: typeof PartitionWatermarkAdvanced.type; payload: PartitionWatermarkAdvancedPayload };

export type InventoryEventType = InventoryEvent['type'];
const inventoryEventTypes = new Set<string>(allInventoryEvents.map((definition) => definition.type));
/** Narrows an envelope or a new event to InventoryEvent (by type name; see `eventGuard`). */
export function isInventoryEvent<E extends { type: string; payload: unknown }>(
  event: E,
): event is E & InventoryEvent {
  return inventoryEventTypes.has(event.type);
}
