import { allocation, NewEvent, newEvent } from '@fleetledger/contracts';
import { checkQuota, endedLeaseFor, leaseFor } from './admission';
import { Candidate, PlacementDecision, poolOfLease, toPlacement } from './candidate';
import { fenceDecision, lapsedPools } from './fences';
import { effectiveEnd, Lease } from './lease';
import { withPreemption, withQuotaPreemption } from './preemption';
import { searchPool, SearchFailure } from './search';
import { AllocationState, SubmittedWorkload } from './state';

type GpuClass = allocation.GpuClass;

/**
 * Where a request goes: its routed GPU classes in order, each under the tenant's lease and quota,
 * searched in the lease's pool (then lapsed fences), then with preemption; else why it waits or is
 * refused. Reads the state and returns a decision: it never changes the state.
 */

/** Why each routed class was passed over, in policy order (the reason a fallback records). */
type Skipped = Map<GpuClass, string>;

/**
 * The routing record of a placement on `gpuClass`: `first choice` when it is the policy's first class,
 * else `fallback: ` and why each earlier class could not take it (`GB200 full (...)`, `H200: no lease`).
 */
export function routingOf(
  routes: readonly GpuClass[],
  gpuClass: GpuClass,
  skipped: ReadonlyMap<GpuClass, string>,
): { requestedClass: GpuClass; reason: string } {
  const requestedClass = routes[0] ?? gpuClass;
  if (requestedClass === gpuClass) return { requestedClass, reason: 'first choice' };
  const before = routes.slice(0, Math.max(routes.indexOf(gpuClass), 0));
  const why = before.map((c) => skipped.get(c) ?? `${c}: not tried`);
  return { requestedClass, reason: `fallback: ${why.join('; ')}` };
}

function skipReason(gpuClass: GpuClass, failure: { reason: string; detail: string }): string {
  return failure.reason === 'capacity'
    ? `${gpuClass} full (${failure.detail})`
    : `${gpuClass}: ${failure.reason} (${failure.detail})`;
}

const QUEUEABLE: readonly SearchFailure[] = ['capacity', 'power-headroom', 'topology'];

/** Decides where a request goes, trying its routed GPU classes in order. Does not change the state. */
export function decidePlacement(
  state: AllocationState,
  request: SubmittedWorkload,
  at: string,
): PlacementDecision {
  const routes = state.routes[request.workloadClass] ?? [];
  const candidates: Candidate[] = [];
  const quotaCandidates: { gpuClass: GpuClass; lease: Lease }[] = [];
  let searchFailure: { reason: SearchFailure; detail: string } | null = null;
  let quotaFailure: { never: boolean; detail: string } | null = null;
  let neverFits = true;
  const skipped: Skipped = new Map();
  const routed = (gpuClass: GpuClass) => routingOf(routes, gpuClass, skipped);

  for (const gpuClass of routes) {
    const lease = leaseFor(state, request, gpuClass, at);
    if (!lease) {
      skipped.set(gpuClass, `${gpuClass}: no lease in force`);
      continue;
    }
    const quota = checkQuota(state, request, gpuClass, lease);
    if (!quota.ok) {
      skipped.set(gpuClass, skipReason(gpuClass, { reason: 'quota', detail: quota.detail }));
      quotaFailure ??= quota;
      neverFits &&= quota.never;
      if (!quota.never) quotaCandidates.push({ gpuClass, lease });
      continue;
    }
    const pool = poolOfLease(state, gpuClass, lease);
    const candidate: Candidate = {
      gpuClass,
      lease,
      pool,
      borrowed: quota.borrowed,
      routing: routed(gpuClass),
    };
    const result = searchPool(pool, request);
    if (result.ok)
      return {
        kind: 'placed',
        placement: toPlacement(state, request, candidate, result.gpus, at),
        victims: [],
      };
    if (pool.fence === null) {
      for (const lapsed of lapsedPools(state, gpuClass, at)) {
        const found = searchPool(lapsed, request);
        if (found.ok)
          return {
            kind: 'placed',
            placement: toPlacement(state, request, { ...candidate, pool: lapsed }, found.gpus, at),
            victims: [],
          };
      }
    }
    neverFits = false;
    searchFailure ??= result;
    skipped.set(gpuClass, skipReason(gpuClass, result));
    candidates.push(candidate);
  }

  // Preemption: for GPUs first (classes whose quota admits the request), then for quota.
  for (const candidate of candidates) {
    const found = withPreemption(state, request, { ...candidate, routing: routed(candidate.gpuClass) }, at);
    if (found) return found;
  }
  for (const { gpuClass, lease } of quotaCandidates) {
    const found = withQuotaPreemption(state, request, gpuClass, lease, at, routed(gpuClass));
    if (found) return found;
  }

  if (searchFailure?.reason === 'capacity') {
    const fenced = fenceDecision(
      state,
      request,
      [...candidates, ...quotaCandidates].map(({ gpuClass, lease }) => ({ gpuClass, lease })),
      at,
    );
    if (fenced) return { kind: 'unplaced', ...fenced };
  }
  if (searchFailure?.reason === 'capacity')
    return {
      kind: 'unplaced',
      outcome: 'queued',
      reason: 'capacity',
      detail: `${searchFailure.detail}; waits for GPUs to be released`,
    };
  if (searchFailure && QUEUEABLE.includes(searchFailure.reason)) {
    const impossible = searchFailure.reason === 'topology' && searchFailure.detail.includes('never fit');
    return {
      kind: 'unplaced',
      outcome: impossible ? 'rejected' : 'queued',
      reason: searchFailure.reason,
      detail: searchFailure.detail,
    };
  }
  if (quotaFailure)
    return {
      kind: 'unplaced',
      outcome: neverFits ? 'rejected' : 'queued',
      reason: 'quota',
      detail: quotaFailure.detail,
    };
  const ended = endedLeaseFor(state, request, routes, at);
  if (ended)
    return {
      kind: 'unplaced',
      outcome: 'rejected',
      reason: 'lease-expired',
      detail: `lease ${ended.leaseId} of ${request.tenantId} ended at ${new Date(effectiveEnd(ended)).toISOString()}; no other lease in force at ${at} for ${routes.join(', ')}`,
    };
  return {
    kind: 'unplaced',
    outcome: 'rejected',
    reason: 'no-lease',
    detail: `tenant ${request.tenantId} has no lease in force at ${at} for ${routes.join(', ') || 'any class'}${request.leaseId ? ` (asked for ${request.leaseId})` : ''}`,
  };
}

/** The events of a decision: preemptions (each victim queued again), then the placement; or queued / rejected. */
export function placementEvents(
  request: SubmittedWorkload,
  decision: PlacementDecision,
  at: string,
): NewEvent[] {
  if (decision.kind === 'unplaced') {
    const { workloadId, tenantId, workloadClass, gpuCount, priority } = request;
    return decision.outcome === 'queued'
      ? [
          newEvent(
            allocation.WorkloadQueued,
            {
              workloadId,
              tenantId,
              workloadClass,
              gpuCount,
              priority,
              reason: decision.reason,
              detail: decision.detail,
              queuedAt: at,
            },
            at,
          ),
        ]
      : [
          newEvent(
            allocation.WorkloadRejected,
            {
              workloadId,
              tenantId,
              workloadClass,
              reason: decision.reason,
              detail: decision.detail,
              rejectedAt: at,
            },
            at,
          ),
        ];
  }
  const events: NewEvent[] = [];
  for (const victim of decision.victims) {
    events.push(
      newEvent(
        allocation.WorkloadPreempted,
        {
          workloadId: victim.workloadId,
          placementId: victim.placementId,
          tenantId: victim.tenantId,
          leaseId: victim.leaseId,
          gpuClass: victim.gpuClass,
          gpuIds: victim.gpuIds,
          preemptedAt: at,
          preemptedBy: request.workloadId,
          cause:
            victim.tenantId === request.tenantId && victim.priority < request.priority
              ? 'priority'
              : 'borrowed-reclaimed',
        },
        at,
      ),
      newEvent(
        allocation.WorkloadQueued,
        {
          workloadId: victim.workloadId,
          tenantId: victim.tenantId,
          workloadClass: victim.workloadClass,
          gpuCount: victim.gpuIds.length,
          priority: victim.priority,
          reason: decision.quotaVictims?.includes(victim.placementId) ? 'quota' : 'capacity',
          detail: `preempted by ${request.workloadId}`,
          queuedAt: at,
        },
        at,
      ),
    );
  }
  events.push(newEvent(allocation.WorkloadPlaced, decision.placement, at));
  return events;
}
