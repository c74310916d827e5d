import { allocation } from '@fleetledger/contracts';
import { GpuRec, Pool } from './capacity';
import { Lease } from './lease';
import { AllocationState, Placement, SubmittedWorkload } from './state';

type GpuClass = allocation.GpuClass;
type Reason = allocation.RejectionReason;

/** What placement and preemption share: a decision's shapes and the placement a search result makes. */

export interface PlacementFound {
  kind: 'placed';
  placement: Placement;
  /** Placements to preempt first (their GPUs, or their share of the quota, go to the new placement). */
  victims: Placement[];
  /** Victims preempted to make room in the tenant's quota rather than for their GPUs. */
  quotaVictims?: readonly string[];
}
export type PlacementDecision =
  PlacementFound | { kind: 'unplaced'; outcome: 'queued' | 'rejected'; reason: Reason; detail: string };

export interface Candidate {
  gpuClass: GpuClass;
  lease: Lease;
  pool: Pool;
  borrowed: boolean;
  /** Why the routing policy's earlier classes could not take the request (empty on the first choice). */
  routing?: { requestedClass: GpuClass; reason: string };
}

export function toPlacement(
  state: AllocationState,
  request: SubmittedWorkload,
  c: Candidate,
  gpus: GpuRec[],
  at: string,
): Placement {
  const nodeIds = [...new Set(gpus.map((g) => g.node.nodeId))];
  const rackIds = [...new Set(gpus.map((g) => g.node.rack.rackId))];
  const attempt = (state.workloads.get(request.workloadId)?.placements ?? 0) + 1;
  return {
    placementId: `${request.workloadId}#${attempt}`,
    workloadId: request.workloadId,
    tenantId: request.tenantId,
    leaseId: c.lease.leaseId,
    workloadClass: request.workloadClass,
    gpuClass: c.gpuClass,
    gpuIds: gpus.map((g) => g.gpuId),
    nodeIds,
    rackIds,
    priority: request.priority,
    borrowed: c.borrowed,
    placedAt: at,
    ...(c.routing ? { routing: c.routing } : {}),
  };
}

/** The pool a lease places into: its own fenced racks if exclusive, else the class's shared capacity. */
export function poolOfLease(state: AllocationState, gpuClass: GpuClass, lease: Lease): Pool {
  return state.view.pool(gpuClass, lease.exclusivity === 'exclusive' ? lease.leaseId : null);
}
