import { allocation, NewEvent, newEvent } from '@fleetledger/contracts';
import { checkCommandTime } from './command-time';
import { leaseEnded } from './lease';
import { decidePlacement, placementEvents } from './placement';
import { queueSteps } from './queue';
import { reject, Rejection } from './rejection';
import { AllocationState, Placement, SubmittedWorkload } from './state';
import { onLedger, Steps } from './steps';

type Reason = allocation.RejectionReason;

/**
 * A workload's life on the placement ledger: submitted, released, withdrawn, evicted when its GPUs
 * fail or its lease ends. Single decisions return events; the ones that place work again or drain
 * the queue are steps (see steps.ts).
 */

/** submit -> placed | queued | rejected. A workload id is accepted once. */
export function decideSubmit(
  state: AllocationState,
  request: allocation.WorkloadRequest,
  at: string,
): NewEvent[] | Rejection<'duplicate' | 'stale-command'> {
  // A retry of an accepted submission is a duplicate whatever its time (the first answer stands).
  if (state.workloads.has(request.workloadId))
    return reject('duplicate', `workload ${request.workloadId} was submitted before`);
  const stale = checkCommandTime(state, at);
  if (stale) return stale;
  const submitted: SubmittedWorkload = { ...request, submittedAt: at };
  const decision = decidePlacement(state, submitted, at);
  return [newEvent(allocation.WorkloadSubmitted, submitted, at), ...placementEvents(submitted, decision, at)];
}

export function decideRelease(
  state: AllocationState,
  workloadId: string,
  at: string,
): NewEvent[] | Rejection<'not-placed' | 'stale-command'> {
  const stale = checkCommandTime(state, at);
  if (stale) return stale;
  const p = state.placements.get(workloadId);
  if (!p)
    return reject(
      'not-placed',
      state.queue.has(workloadId)
        ? `workload ${workloadId} is queued and holds no GPUs: withdraw it instead`
        : `workload ${workloadId} holds no GPUs`,
    );
  return [
    newEvent(
      allocation.WorkloadReleased,
      {
        workloadId,
        placementId: p.placementId,
        tenantId: p.tenantId,
        leaseId: p.leaseId,
        gpuClass: p.gpuClass,
        gpuIds: p.gpuIds,
        releasedAt: at,
      },
      at,
    ),
  ];
}

/** Takes a queued workload off the queue; anything else is refused with what to do instead. */
export function decideWithdraw(
  state: AllocationState,
  workloadId: string,
  at: string,
  reason?: string,
): NewEvent[] | Rejection<'unknown-workload' | 'not-queued' | 'stale-command'> {
  const stale = checkCommandTime(state, at);
  if (stale) return stale;
  const record = state.workloads.get(workloadId);
  if (!record) return reject('unknown-workload', `no workload ${workloadId}`);
  if (!state.queue.has(workloadId))
    return reject(
      'not-queued',
      record.status === 'placed'
        ? `workload ${workloadId} is placed: release it instead`
        : `workload ${workloadId} is ${record.status}, not queued`,
    );
  const { tenantId, workloadClass } = record.request;
  return [
    newEvent(
      allocation.WorkloadWithdrawn,
      { workloadId, tenantId, workloadClass, withdrawnAt: at, ...(reason ? { reason } : {}) },
      at,
    ),
  ];
}

const evictionCause: Record<string, allocation.WorkloadEvictedPayload['cause'] | undefined> = {
  failed: 'gpu-failed',
  draining: 'gpu-draining',
  decommissioned: 'gpu-decommissioned',
};

/**
 * After inventory reported GPUs failed, drained or decommissioned (already applied to the view):
 * evicts every placement holding one of them (a step) and places it again if it can, else queues it
 * (the next step, decided once the eviction is applied).
 * Degraded GPUs keep their work (they take no new work).
 */
export function* evictionSteps(state: AllocationState, gpuIds: readonly string[], at: string): Steps {
  const affected = new Map<
    string,
    { placement: Placement; gpus: string[]; cause: allocation.WorkloadEvictedPayload['cause'] }
  >();
  for (const gpuId of gpuIds) {
    const gpu = state.view.gpus.get(gpuId);
    const cause = gpu && evictionCause[gpu.health];
    if (!gpu?.placementId || !cause) continue;
    const placement = state.placementsById.get(gpu.placementId);
    if (!placement) continue;
    const entry = affected.get(placement.placementId) ?? { placement, gpus: [], cause };
    entry.gpus.push(gpuId);
    affected.set(placement.placementId, entry);
  }
  for (const { placement, gpus, cause } of affected.values())
    yield* evictAndPlaceAgain(state, placement, cause, gpus, at);
}

/** Evicts one placement, then (once that is applied) decides its workload again: placed, queued or rejected. */
function* evictAndPlaceAgain(
  state: AllocationState,
  p: Placement,
  cause: allocation.WorkloadEvictedPayload['cause'],
  affectedGpuIds: string[],
  at: string,
): Steps {
  const evicted = newEvent(
    allocation.WorkloadEvicted,
    {
      workloadId: p.workloadId,
      placementId: p.placementId,
      tenantId: p.tenantId,
      leaseId: p.leaseId,
      gpuClass: p.gpuClass,
      gpuIds: p.gpuIds,
      evictedAt: at,
      cause,
      affectedGpuIds,
    },
    at,
  );
  yield onLedger([evicted]);
  const request = state.workloads.get(p.workloadId)?.request;
  if (request) yield onLedger(placementEvents(request, decidePlacement(state, request, at), at));
}

const LEASE_GONE: readonly Reason[] = ['lease-expired', 'no-lease'];

/**
 * After leases ended (expired or terminated, already applied to the state), at `at`:
 *   1. every placement under a lease that has ended by `at` is evicted (cause `lease-ended`, so
 *      metering closes it at `at`) and decided again: placed under another lease of the tenant in
 *      force, queued, or rejected (`lease-expired`);
 *   2. every queued workload that no lease can take any more is rejected with that reason;
 *   3. the queue runs (the freed GPUs and the unfenced racks are capacity for others).
 * Time comes from `at` only. Running it again with nothing ended changes nothing but the queue run.
 */
export function* leaseEndSteps(
  state: AllocationState,
  at: string,
  /** Only these leases' placements, and only their tenants' queued work (a termination); default every lease. */
  only?: ReadonlySet<string>,
): Steps {
  const ended = [...state.placementsById.values()]
    .filter((p) => {
      if (only && !only.has(p.leaseId)) return false;
      const lease = state.leases.get(p.leaseId);
      return !lease || leaseEnded(lease, at);
    })
    .sort((a, b) => a.placementId.localeCompare(b.placementId));
  for (const placement of ended) yield* evictAndPlaceAgain(state, placement, 'lease-ended', [], at);

  const tenants = only && new Set([...only].map((id) => state.leases.get(id)?.tenantId));
  for (const request of [...state.queue.values()]) {
    if (tenants && !tenants.has(request.tenantId)) continue;
    const decision = decidePlacement(state, request, at);
    if (
      decision.kind === 'placed' ||
      decision.outcome !== 'rejected' ||
      !LEASE_GONE.includes(decision.reason)
    )
      continue;
    yield onLedger(placementEvents(request, decision, at));
  }
  yield* queueSteps(state, at);
}
