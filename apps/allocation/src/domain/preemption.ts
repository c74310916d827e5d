import { allocation } from '@fleetledger/contracts';
import { checkQuota, QuotaCheck, QuotaRelief } from './admission';
import { Candidate, PlacementFound, poolOfLease, toPlacement } from './candidate';
import { Lease } from './lease';
import { quotaOf } from './quota';
import { searchPool } from './search';
import { AllocationState, Placement, SubmittedWorkload } from './state';
import { WhatIfPool } from './what-if';

type GpuClass = allocation.GpuClass;

/**
 * Preemption: who may be preempted for a request, and the what-ifs that find the fewest victims.
 * A what-if releases victims in a `WhatIfPool` over the live pool, never in the state: deciding
 * changes nothing, and the victims are preempted only when the decided events are applied.
 */

/** Who may be preempted for this request in this pool: the tenant's lower-priority work, or others' borrowed work. */
function victimsFor(state: AllocationState, request: SubmittedWorkload, c: Candidate): Placement[] {
  const victims: Placement[] = [];
  for (const p of state.placementsById.values()) {
    if (p.gpuClass !== c.gpuClass) continue;
    const lease = state.leases.get(p.leaseId);
    const samePool = c.pool.fence === null ? lease?.exclusivity !== 'exclusive' : p.leaseId === c.pool.fence;
    if (!samePool) continue;
    const ownLowerPriority = p.tenantId === request.tenantId && p.priority < request.priority;
    // Borrowed work goes back to whoever asks within nominal quota: another tenant, or another workload class of the same tenant.
    const reclaimable =
      p.borrowed &&
      !c.borrowed &&
      p.priority <= request.priority &&
      !(p.tenantId === request.tenantId && p.workloadClass === request.workloadClass);
    if (ownLowerPriority || reclaimable) victims.push(p);
  }
  return victims.sort(victimOrder);
}

/** Lowest priority first, then the youngest (least work lost), then by id for determinism. */
const victimOrder = (a: Placement, b: Placement) =>
  a.priority - b.priority ||
  b.placedAt.localeCompare(a.placedAt) ||
  a.placementId.localeCompare(b.placementId);

/** What preempting `victims` gives back to the request's quota scope and lease. */
function reliefOf(
  victims: readonly Placement[],
  request: SubmittedWorkload,
  gpuClass: GpuClass,
  lease: Lease,
): QuotaRelief {
  const relief = { scopeGpus: 0, leaseGpus: 0 };
  for (const v of victims) {
    if (v.gpuClass !== gpuClass) continue;
    if (v.tenantId === request.tenantId && v.workloadClass === request.workloadClass)
      relief.scopeGpus += v.gpuIds.length;
    if (v.leaseId === lease.leaseId) relief.leaseGpus += v.gpuIds.length;
  }
  return relief;
}

/**
 * What-if for a request refused only by its tenant's quota (tenant x GPU class x workload class):
 * frees the tenant's own lower-priority placements in that same scope, lowest priority first, until
 * the quota admits the request; then searches the lease's pool, preempting further as for capacity
 * if the GPUs are still short. Victims are released in a what-if pool only.
 */
export function withQuotaPreemption(
  state: AllocationState,
  request: SubmittedWorkload,
  gpuClass: GpuClass,
  lease: Lease,
  at: string,
  routing?: Candidate['routing'],
): PlacementFound | null {
  const own = [...state.placementsInScope(request.tenantId, gpuClass, request.workloadClass)]
    .filter((p) => p.priority < request.priority)
    .sort(victimOrder);
  // Not worth a what-if when even all of them would not make room in the quota.
  const limit = quotaOf(state.quotas.get(request.tenantId), gpuClass, request.workloadClass);
  const inUse = state.usageOf(request.tenantId, gpuClass, request.workloadClass);
  const preemptible = own.reduce((n, p) => n + p.gpuIds.length, 0);
  if (inUse - preemptible + request.gpuCount > limit.nominal + limit.borrowLimit) return null;
  const pool = poolOfLease(state, gpuClass, lease);
  const whatIf = new WhatIfPool(pool, state.view);
  const forQuota: Placement[] = [];
  const forGpus: Placement[] = [];
  let quota: QuotaCheck | null = null;
  for (const victim of own) {
    whatIf.release(victim);
    forQuota.push(victim);
    quota = checkQuota(state, request, gpuClass, lease, reliefOf(forQuota, request, gpuClass, lease));
    if (quota.ok) break;
  }
  if (!quota?.ok) return null;
  const candidate: Candidate = { gpuClass, lease, pool, borrowed: quota.borrowed, routing };
  let result = searchPool(whatIf, request);
  if (!result.ok) {
    for (const victim of victimsFor(state, request, candidate)) {
      if (forQuota.includes(victim)) continue;
      whatIf.release(victim);
      forGpus.push(victim);
      result = searchPool(whatIf, request);
      if (result.ok) break;
    }
  }
  if (!result.ok) return null;
  const chosen = new Set(result.gpus.map((g) => g.gpuId));
  const victims = [...forQuota, ...forGpus.filter((v) => v.gpuIds.some((g) => chosen.has(g)))];
  // More of the scope may have been preempted for GPUs: the request may now run within nominal.
  const final = checkQuota(state, request, gpuClass, lease, reliefOf(victims, request, gpuClass, lease));
  const borrowed = final.ok ? final.borrowed : quota.borrowed;
  return {
    kind: 'placed',
    placement: toPlacement(state, request, { ...candidate, borrowed }, result.gpus, at),
    victims: victims.sort(victimOrder),
    quotaVictims: forQuota.map((v) => v.placementId),
  };
}

/** What-if: releases victims one by one (in a what-if pool) until the request fits. */
export function withPreemption(
  state: AllocationState,
  request: SubmittedWorkload,
  c: Candidate,
  at: string,
): PlacementFound | null {
  const whatIf = new WhatIfPool(c.pool, state.view);
  const freed: Placement[] = [];
  for (const victim of victimsFor(state, request, c)) {
    whatIf.release(victim);
    freed.push(victim);
    const result = searchPool(whatIf, request);
    if (!result.ok) continue;
    const placement = toPlacement(state, request, c, result.gpus, at);
    const chosen = new Set(placement.gpuIds);
    return { kind: 'placed', placement, victims: freed.filter((v) => v.gpuIds.some((g) => chosen.has(g))) };
  }
  return null;
}
