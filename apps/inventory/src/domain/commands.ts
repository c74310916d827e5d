import { z } from 'zod';
import { inventory } from '@fleetledger/contracts';

/**
 * What an operator (or the bulk import) asks the inventory to do. The schemas are the single
 * definition: the HTTP layer validates requests with them, the domain decides on the parsed values.
 */
const id = inventory.fleetIdSchema;
const watts = inventory.wattsSchema;
const reason = z.string().min(1).max(500);

export const registerSiteSchema = z.object({
  siteId: id,
  name: z.string().min(1).max(200),
  powerCapW: watts,
});
export const registerHallSchema = z.object({
  hallId: id,
  siteId: id,
  name: z.string().min(1).max(200),
  powerCapW: watts,
});
export const registerRackSchema = z.object({
  rackId: id,
  hallId: id,
  gpuClass: inventory.gpuClassSchema,
  powerBudgetW: watts,
});

export const nodeToCommissionSchema = z.object({
  nodeId: id,
  nominalPowerW: watts.positive(),
  /** GPU ids (serials) of the node; memory comes from the GPU class unless given. */
  gpus: z.array(z.object({ gpuId: id, memoryGb: z.number().int().positive().optional() })).min(1),
});

export const commissionNodesSchema = z.object({
  rackId: id,
  nodes: z.array(nodeToCommissionSchema).min(1).max(1000),
});

export const reportGpuHealthSchema = z.object({ gpuId: id, health: inventory.reportedHealthSchema, reason });
export const drainNodeSchema = z.object({ nodeId: id, reason });
export const drainRackSchema = z.object({ rackId: id, reason });
export const decommissionNodeSchema = z.object({ nodeId: id, reason });
export const changePowerBudgetSchema = z.object({
  scope: inventory.powerScopeSchema,
  scopeId: id,
  budgetW: watts,
  reason,
});

export type RegisterSite = z.infer<typeof registerSiteSchema>;
export type RegisterHall = z.infer<typeof registerHallSchema>;
export type RegisterRack = z.infer<typeof registerRackSchema>;
export type NodeToCommission = z.infer<typeof nodeToCommissionSchema>;
export type CommissionNodes = z.infer<typeof commissionNodesSchema>;
export type ReportGpuHealth = z.infer<typeof reportGpuHealthSchema>;
export type DrainNode = z.infer<typeof drainNodeSchema>;
export type DrainRack = z.infer<typeof drainRackSchema>;
export type DecommissionNode = z.infer<typeof decommissionNodeSchema>;
export type ChangePowerBudget = z.infer<typeof changePowerBudgetSchema>;

export type InventoryCommand =
  | { kind: 'register-site'; body: RegisterSite }
  | { kind: 'register-hall'; body: RegisterHall }
  | { kind: 'register-rack'; body: RegisterRack }
  | { kind: 'commission-nodes'; body: CommissionNodes }
  | { kind: 'report-gpu-health'; body: ReportGpuHealth }
  | { kind: 'drain-node'; body: DrainNode }
  | { kind: 'undrain-node'; body: DrainNode }
  | { kind: 'drain-rack'; body: DrainRack }
  | { kind: 'undrain-rack'; body: DrainRack }
  | { kind: 'decommission-node'; body: DecommissionNode }
  | { kind: 'change-power-budget'; body: ChangePowerBudget };
