import { allocation, NewEvent, newEvent } from '@fleetledger/contracts';
import { GpuRec, Pool } from './capacity';
import { effectiveEnd, fenceLapsed, Lease, leaseEnded, leaseInForce } from './lease';
import { quotaOf } from './quota';
import { reject, Rejection } from './rejection';
import { searchPool, SearchFailure } from './search';
import { AllocationState, evolve, Placement, SubmittedWorkload } from './state';

type GpuClass = allocation.GpuClass;
type Reason = allocation.RejectionReason;

/**
 * The placement engine: deterministic functions of the state and a request. `decide*` functions
 * never change the state (a what-if for preemption frees and re-allocates the same GPUs before it
 * returns); `run*` functions decide and evolve step by step, for decisions that depend on the
 * previous one (draining the queue, re-placing evicted work).
 */

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

interface Candidate {
  gpuClass: GpuClass;
  lease: Lease;
  pool: Pool;
  borrowed: boolean;
  /** Why the routing policy's earlier classes could not take the request (empty on the first choice). */
  routing?: { requestedClass: GpuClass; reason: string };
}

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

/** The tenant's lease to place a class under at `at`: the named one, else exclusive before shared, then by id. */
export function leaseFor(
  state: AllocationState,
  request: SubmittedWorkload,
  gpuClass: GpuClass,
  at: string,
): Lease | null {
  const usable = (lease: Lease) =>
    lease.tenantId === request.tenantId &&
    leaseInForce(lease, at) &&
    (lease.committedGpus[gpuClass] ?? 0) > 0;
  if (request.leaseId) {
    const lease = state.leases.get(request.leaseId);
    return lease && usable(lease) ? lease : null;
  }
  const leases = [...state.leases.values()].filter(usable);
  leases.sort((a, b) =>
    a.exclusivity === b.exclusivity
      ? a.leaseId.localeCompare(b.leaseId)
      : a.exclusivity === 'exclusive'
        ? -1
        : 1,
  );
  return leases[0] ?? null;
}

type QuotaCheck = { ok: true; borrowed: boolean } | { ok: false; never: boolean; detail: string };

/** GPUs a what-if preemption hands back: to the request's quota scope, and to its lease's idle count. */
interface QuotaRelief {
  scopeGpus: number;
  leaseGpus: number;
}
const NO_RELIEF: QuotaRelief = { scopeGpus: 0, leaseGpus: 0 };

/** Nominal first; beyond it up to the borrowing limit while the lease has idle committed GPUs. */
export function checkQuota(
  state: AllocationState,
  request: SubmittedWorkload,
  gpuClass: GpuClass,
  lease: Lease,
  relief: QuotaRelief = NO_RELIEF,
): QuotaCheck {
  const quota = quotaOf(state.quotas.get(request.tenantId), gpuClass, request.workloadClass);
  const used = state.usageOf(request.tenantId, gpuClass, request.workloadClass) - relief.scopeGpus;
  const n = request.gpuCount;
  const key = `${gpuClass}/${request.workloadClass}`;
  if (used + n <= quota.nominal) return { ok: true, borrowed: false };
  if (n > quota.nominal + quota.borrowLimit) {
    return {
      ok: false,
      never: true,
      detail: `${n} ${key} GPUs exceed the quota (${quota.nominal} nominal + ${quota.borrowLimit} borrowable)`,
    };
  }
  if (used + n > quota.nominal + quota.borrowLimit) {
    return {
      ok: false,
      never: false,
      detail: `${used} ${key} GPUs in use + ${n} exceed ${quota.nominal} nominal + ${quota.borrowLimit} borrowable`,
    };
  }
  const idle =
    (lease.committedGpus[gpuClass] ?? 0) - (state.leaseUsageOf(lease.leaseId, gpuClass) - relief.leaseGpus);
  if (n > idle)
    return {
      ok: false,
      never: false,
      detail: `borrowing ${n} ${key} GPUs needs idle capacity of lease ${lease.leaseId}, ${Math.max(idle, 0)} idle`,
    };
  return { ok: true, borrowed: true };
}

function toPlacement(
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
 * if the GPUs are still short. Every GPU is restored before returning.
 */
function withQuotaPreemption(
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
  const forQuota: Placement[] = [];
  const forGpus: Placement[] = [];
  try {
    let quota: QuotaCheck | null = null;
    for (const victim of own) {
      state.view.free(victim.placementId, victim.gpuIds);
      forQuota.push(victim);
      quota = checkQuota(state, request, gpuClass, lease, reliefOf(forQuota, request, gpuClass, lease));
      if (quota.ok) break;
    }
    if (!quota?.ok) return null;
    const candidate: Candidate = { gpuClass, lease, pool, borrowed: quota.borrowed, routing };
    let result = searchPool(pool, request);
    if (!result.ok) {
      for (const victim of victimsFor(state, request, candidate)) {
        if (forQuota.includes(victim)) continue;
        state.view.free(victim.placementId, victim.gpuIds);
        forGpus.push(victim);
        result = searchPool(pool, request);
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
  } finally {
    for (const victim of [...forQuota, ...forGpus]) state.view.allocate(victim.placementId, victim.gpuIds);
  }
}

/** The pool a lease places into: its own fenced racks if exclusive, else the class's shared capacity. */
function poolOfLease(state: AllocationState, gpuClass: GpuClass, lease: Lease): Pool {
  return state.view.pool(gpuClass, lease.exclusivity === 'exclusive' ? lease.leaseId : null);
}

/**
 * Racks of `gpuClass` still fenced by an exclusive lease whose term is over at `at`: shared capacity
 * from its end on, before the expiry sweep has lifted the fence. In lease id order.
 */
function lapsedPools(state: AllocationState, gpuClass: GpuClass, at: string): Pool[] {
  const pools: Pool[] = [];
  for (const lease of state.leases.values()) {
    if (!fenceLapsed(lease, at)) continue;
    const pool = state.view.existingPool(gpuClass, lease.leaseId);
    if (pool && pool.freeGpus > 0) pools.push(pool);
  }
  return pools.sort((a, b) => (a.fence ?? '').localeCompare(b.fence ?? ''));
}

/** The tenant's most recently ended lease for one of the routed classes (or the named lease), if it ended by `at`. */
function endedLeaseFor(
  state: AllocationState,
  request: SubmittedWorkload,
  routes: readonly GpuClass[],
  at: string,
): Lease | null {
  let latest: Lease | null = null;
  for (const lease of state.leases.values()) {
    if (lease.tenantId !== request.tenantId) continue;
    if (request.leaseId && lease.leaseId !== request.leaseId) continue;
    // Terminated is no-lease; signed, active or expired with the term over is lease-expired, before and after the sweep.
    if (lease.status === 'terminated') continue;
    if (!routes.some((c) => (lease.committedGpus[c] ?? 0) > 0)) continue;
    if (!leaseEnded(lease, at)) continue;
    if (!latest || effectiveEnd(lease) > effectiveEnd(latest)) latest = lease;
  }
  return latest;
}

/** What-if: frees victims one by one until the request fits; restores every GPU before returning. */
function withPreemption(
  state: AllocationState,
  request: SubmittedWorkload,
  c: Candidate,
  at: string,
): PlacementFound | null {
  const victims = victimsFor(state, request, c);
  const freed: Placement[] = [];
  let found: PlacementFound | null = null;
  try {
    for (const victim of victims) {
      state.view.free(victim.placementId, victim.gpuIds);
      freed.push(victim);
      const result = searchPool(c.pool, request);
      if (result.ok) {
        const placement = toPlacement(state, request, c, result.gpus, at);
        const chosen = new Set(placement.gpuIds);
        found = {
          kind: 'placed',
          placement,
          victims: freed.filter((v) => v.gpuIds.some((g) => chosen.has(g))),
        };
        break;
      }
    }
  } finally {
    for (const victim of freed) state.view.allocate(victim.placementId, victim.gpuIds);
  }
  return found;
}

const QUEUEABLE: readonly SearchFailure[] = ['capacity', 'power-headroom', 'topology'];

/** What exclusive fences leave a shared lease of one class, over the lease's term. */
export interface FenceOutlook {
  gpuClass: GpuClass;
  /** GPUs in service in shared capacity now (free or not). */
  sharedGpus: number;
  /** Shared GPUs plus those fenced by exclusive leases that end before this lease does. */
  reachableGpus: number;
  /** Exclusive leases that fence this class until this lease's end or beyond (the tenant can never use their racks). */
  blocking: { lease: Lease; gpus: number }[];
  /** Exclusive leases that fence this class and end before this lease does (their racks become shared). */
  ending: { lease: Lease; gpus: number }[];
}

const iso = (ms: number) => new Date(ms).toISOString();
const named = (fences: FenceOutlook['blocking']) =>
  fences
    .map(
      ({ lease, gpus }) =>
        `${lease.leaseId} (${lease.tenantId}, ${gpus} GPUs, until ${iso(effectiveEnd(lease))})`,
    )
    .join(', ');

/**
 * Issue #15 (1): exclusive leases are capacity a shared lease may never use while they are in force.
 * For a shared lease of `gpuClass`, splits the class's racks into shared, fenced until after the
 * lease's end (never usable by it), and fenced by leases that end first (usable later).
 */
export function fenceOutlook(
  state: AllocationState,
  gpuClass: GpuClass,
  lease: Lease,
  at: string,
): FenceOutlook {
  const end = effectiveEnd(lease);
  const now = Date.parse(at);
  const outlook: FenceOutlook = { gpuClass, sharedGpus: 0, reachableGpus: 0, blocking: [], ending: [] };
  const byFence = new Map<string, number>();
  for (const rack of state.view.racks.values()) {
    if (rack.gpuClass !== gpuClass) continue;
    let gpus = 0; // GPUs in service: nodes not decommissioned (cheap: no per-GPU scan on a 220,000-GPU fleet)
    for (const node of rack.nodes) if (!node.decommissioned) gpus += node.gpus.length;
    if (rack.fence === null) {
      outlook.sharedGpus += gpus;
      outlook.reachableGpus += gpus;
    } else byFence.set(rack.fence, (byFence.get(rack.fence) ?? 0) + gpus);
  }
  for (const [leaseId, gpus] of [...byFence].sort(([a], [b]) => a.localeCompare(b))) {
    const fence = state.leases.get(leaseId);
    const fenceEnd = fence ? effectiveEnd(fence) : now;
    if (fenceEnd <= now) {
      outlook.sharedGpus += gpus; // lapsed: shared already, before the sweep lifts the fence
      outlook.reachableGpus += gpus;
    } else if (fence && fenceEnd < end) {
      outlook.reachableGpus += gpus;
      outlook.ending.push({ lease: fence, gpus });
    } else if (fence) outlook.blocking.push({ lease: fence, gpus });
  }
  return outlook;
}

/**
 * When no routed class can hold the request in its shared capacity, even empty: rejected with
 * `lease-exclusive` if no capacity the tenant may use before its lease ends can ever hold it and
 * exclusive fences are part of why (naming them), with `capacity` if the classes have too few GPUs
 * in service at all; queued with `lease-exclusive` if it waits for fences that end before its lease
 * does. Null when busy GPUs, not fences or fleet size, stand in the way (or a class places into the
 * tenant's own exclusive racks).
 */
function fenceDecision(
  state: AllocationState,
  request: SubmittedWorkload,
  classes: readonly { gpuClass: GpuClass; lease: Lease }[],
  at: string,
): { outcome: 'queued' | 'rejected'; reason: 'lease-exclusive' | 'capacity'; detail: string } | null {
  if (classes.length === 0 || classes.some(({ lease }) => lease.exclusivity === 'exclusive')) return null;
  const n = request.gpuCount;
  const outlooks = classes.map(({ gpuClass, lease }) => ({
    lease,
    o: fenceOutlook(state, gpuClass, lease, at),
  }));
  // Some class could hold the request in shared capacity alone: GPUs are busy, not fenced.
  if (outlooks.some(({ o }) => o.sharedGpus >= n)) return null;
  // Not even every GPU of the classes in service, fenced or not, would hold it: it can never run.
  if (outlooks.every(({ o }) => o.reachableGpus < n && o.blocking.length === 0))
    return {
      outcome: 'rejected',
      reason: 'capacity',
      detail: outlooks
        .map(({ o }) => `${o.gpuClass}: ${n} wanted, ${o.reachableGpus} GPUs in service in shared capacity`)
        .join('; '),
    };
  if (outlooks.every(({ o }) => o.reachableGpus < n))
    return {
      outcome: 'rejected',
      reason: 'lease-exclusive',
      detail: outlooks
        .map(
          ({ lease, o }) =>
            `${o.gpuClass}: ${n} wanted, ${o.reachableGpus} usable before lease ${lease.leaseId} ends (${iso(effectiveEnd(lease))}); fenced by exclusive lease(s) ${named(o.blocking)}`,
        )
        .join('; '),
    };
  const waiting = outlooks.filter(({ o }) => o.reachableGpus >= n && o.ending.length > 0);
  if (waiting.length === 0) return null;
  return {
    outcome: 'queued',
    reason: 'lease-exclusive',
    detail: waiting
      .map(
        ({ o }) =>
          `${o.gpuClass}: ${o.sharedGpus} GPUs in shared capacity, ${n} wanted; waits for exclusive lease(s) ${named(o.ending)} to end`,
      )
      .join('; '),
  };
}

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

/**
 * Issue #15 (9), time in commands: the placement ledger is decided in time order. A ledger command
 * (submit, release, withdraw) stamped before the ledger's latest event is refused with
 * `stale-command`: the state holds only the present (today's free GPUs, quotas, fences), so a
 * decision "as of" an earlier instant would be made against capacity that did not exist then, and
 * its events would read as if they had happened before decisions already recorded. Equal times are
 * fine. A caller that does not stamp its command gets the later of its clock and the ledger's time.
 * Issue #22: a command stamped behind allocation's published watermark is refused the same way (its
 * detail names the watermark): there is no "late" placement, the caller sends it again as of now.
 */
export function checkCommandTime(state: AllocationState, at: string): Rejection<'stale-command'> | null {
  if (Number.isNaN(Date.parse(at))) return reject('stale-command', `${at} is not an instant`);
  if (state.ledgerAt && Date.parse(at) < Date.parse(state.ledgerAt))
    return reject(
      'stale-command',
      `the command is stamped ${at}, before the placement ledger's latest decision at ${state.ledgerAt}; allocation decides in time order and does not evaluate the past: send it again with a current time (or none)`,
    );
  // Issue #22: behind the published watermark, metering and billing have been told the past is complete.
  if (state.watermarkAt && Date.parse(at) < Date.parse(state.watermarkAt))
    return reject(
      'stale-command',
      `the command is stamped ${at}, behind allocation's published watermark ${state.watermarkAt}: every placement before it has been published to metering and billing as complete, so the past is not reopened; send it again with a current time (or none)`,
    );
  return null;
}

/** The time a ledger command runs at: the caller's stamp, else the latest of `now`, the ledger's latest event and the watermark. */
export function commandTime(state: AllocationState, requestedAt: string | undefined, now: string): string {
  if (requestedAt) return requestedAt;
  return laterOf(laterOf(now, state.ledgerAt), state.watermarkAt);
}

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

export function runWithdraw(
  state: AllocationState,
  workloadId: string,
  at: string,
  reason?: string,
): NewEvent[] | Rejection<'unknown-workload' | 'not-queued' | 'stale-command'> {
  const events = decideWithdraw(state, workloadId, at, reason);
  if (Array.isArray(events)) evolveAll(state, events);
  return events;
}

function evolveAll(state: AllocationState, events: readonly NewEvent[]): void {
  for (const event of events) evolve(state, event);
}

/**
 * The queue's order: highest priority first, then earliest submission, then submission order. The
 * read model (`GET /queue`, queue positions) orders the same way.
 */
export function queueOrder(state: AllocationState): (a: SubmittedWorkload, b: SubmittedWorkload) => number {
  const seq = (w: SubmittedWorkload) => state.workloads.get(w.workloadId)?.seq ?? 0;
  return (a, b) =>
    b.priority - a.priority || Date.parse(a.submittedAt) - Date.parse(b.submittedAt) || seq(a) - seq(b);
}

/** Queued workloads in the order they are tried. */
export function queuedInOrder(state: AllocationState): SubmittedWorkload[] {
  return [...state.queue.values()].sort(queueOrder(state));
}

/** Placement passes over the queue at most per re-drive (a pass that places nothing ends it sooner). */
const MAX_QUEUE_PASSES = 4;

/**
 * Re-drives the queue (issue #15, 4): decides every queued workload again in queue order, applies
 * and returns what changed. Placements first, pass after pass while a pass places something (a
 * preempted victim queued in one pass is tried in the next). Then, from the last pass's decisions
 * (made on the state as it is now): work that can now never run (a quota lowered below the request,
 * a fence extended past the lease) is rejected with its reason, and work that still waits gets a new
 * WorkloadQueued only when its reason or detail changed, so the read model always says what it waits
 * for now, and nothing is written when nothing changed.
 */
export function runQueue(state: AllocationState, at: string): NewEvent[] {
  const out: NewEvent[] = [];
  let unplaced: { request: SubmittedWorkload; decision: PlacementDecision }[] = [];
  for (let pass = 0; pass < MAX_QUEUE_PASSES; pass++) {
    unplaced = [];
    let placedAny = false;
    for (const request of queuedInOrder(state)) {
      if (!state.queue.has(request.workloadId)) continue;
      const decision = decidePlacement(state, request, at);
      if (decision.kind === 'unplaced') {
        unplaced.push({ request, decision });
        continue;
      }
      const events = placementEvents(request, decision, at);
      evolveAll(state, events);
      out.push(...events);
      placedAny = true;
    }
    if (!placedAny) break;
  }
  for (const { request, decision } of unplaced) {
    if (decision.kind !== 'unplaced' || !state.queue.has(request.workloadId)) continue;
    const record = state.workloads.get(request.workloadId);
    if (
      decision.outcome === 'queued' &&
      record?.reason === decision.reason &&
      record.detail === decision.detail
    )
      continue;
    const events = placementEvents(request, decision, at);
    evolveAll(state, events);
    out.push(...events);
  }
  return out;
}

/** The later of two instants (ISO), `b` may be empty. */
export function laterOf(a: string, b: string): string {
  return b && Date.parse(b) > Date.parse(a) ? b : a;
}

/**
 * A change outside the ledger that can change an answer (quota, lease signed / activated / amended,
 * routing policy): applies its events to the state, then re-drives the queue, never before the
 * ledger's latest decision. Returns the ledger's events.
 */
export function redriveAfter(state: AllocationState, events: readonly NewEvent[], at: string): NewEvent[] {
  evolveAll(state, events);
  return runQueue(state, laterOf(laterOf(at, state.ledgerAt), state.watermarkAt));
}

/** Runs a release and then the queue. */
export function runRelease(
  state: AllocationState,
  workloadId: string,
  at: string,
): NewEvent[] | Rejection<'not-placed' | 'stale-command'> {
  const released = decideRelease(state, workloadId, at);
  if (!Array.isArray(released)) return released;
  evolveAll(state, released);
  return [...released, ...runQueue(state, at)];
}

export function runSubmit(
  state: AllocationState,
  request: allocation.WorkloadRequest,
  at: string,
): NewEvent[] | Rejection<'duplicate' | 'stale-command'> {
  const events = decideSubmit(state, request, at);
  if (Array.isArray(events)) evolveAll(state, events);
  return events;
}

const evictionCause: Record<string, allocation.WorkloadEvictedPayload['cause'] | undefined> = {
  failed: 'gpu-failed',
  draining: 'gpu-draining',
  decommissioned: 'gpu-decommissioned',
};

/**
 * After inventory reported GPUs failed, drained or decommissioned (already applied to the view):
 * evicts every placement holding one of them and places it again if it can, else queues it.
 * Degraded GPUs keep their work (they take no new work).
 */
export function runEvictions(state: AllocationState, gpuIds: readonly string[], at: string): NewEvent[] {
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
  const out: NewEvent[] = [];
  for (const { placement, gpus, cause } of affected.values())
    out.push(...evictAndPlaceAgain(state, placement, cause, gpus, at));
  return out;
}

/** Evicts one placement (applied to the state) and decides its workload again: placed, queued or rejected. */
function evictAndPlaceAgain(
  state: AllocationState,
  p: Placement,
  cause: allocation.WorkloadEvictedPayload['cause'],
  affectedGpuIds: string[],
  at: string,
): NewEvent[] {
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
  evolve(state, evicted);
  const request = state.workloads.get(p.workloadId)?.request;
  const again = request ? placementEvents(request, decidePlacement(state, request, at), at) : [];
  evolveAll(state, again);
  return [evicted, ...again];
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
export function runLeaseEnds(
  state: AllocationState,
  at: string,
  /** Only these leases' placements, and only their tenants' queued work (a termination); default every lease. */
  only?: ReadonlySet<string>,
): NewEvent[] {
  const out: NewEvent[] = [];
  const ended = [...state.placementsById.values()]
    .filter((p) => {
      if (only && !only.has(p.leaseId)) return false;
      const lease = state.leases.get(p.leaseId);
      return !lease || leaseEnded(lease, at);
    })
    .sort((a, b) => a.placementId.localeCompare(b.placementId));
  for (const placement of ended) out.push(...evictAndPlaceAgain(state, placement, 'lease-ended', [], at));

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
    const events = placementEvents(request, decision, at);
    evolveAll(state, events);
    out.push(...events);
  }
  return [...out, ...runQueue(state, at)];
}
