import { allocation } from '@fleetledger/contracts';
import { Pool } from './capacity';
import { effectiveEnd, fenceLapsed, Lease } from './lease';
import { AllocationState, SubmittedWorkload } from './state';

type GpuClass = allocation.GpuClass;

/** Exclusive leases fence racks: what that leaves shared work, now and over a lease's term. */

/**
 * Racks of `gpuClass` still fenced by an exclusive lease whose term is over at `at`: shared capacity
 * from its end on, before the expiry sweep has lifted the fence. In lease id order.
 */
export function lapsedPools(state: AllocationState, gpuClass: GpuClass, at: string): Pool[] {
  const pools: Pool[] = [];
  for (const lease of state.leases.values()) {
    if (!fenceLapsed(lease, at)) continue;
    const pool = state.view.existingPool(gpuClass, lease.leaseId);
    if (pool && pool.freeGpus > 0) pools.push(pool);
  }
  return pools.sort((a, b) => (a.fence ?? '').localeCompare(b.fence ?? ''));
}

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
export function fenceDecision(
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
