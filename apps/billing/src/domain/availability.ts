import { commitmentSegments, CommittedGpus, LeaseTerms } from './leases';
import { Interval, periodBounds } from './periods';

/**
 * Healthy capacity under leases, from inventory's GPU health events (README "SLA credits" has the rules).
 *
 * A GPU is *available* when its effective health is `healthy` or `degraded` (it still serves the tenant's work);
 * `failed`, `draining` and `decommissioned` GPUs are not. Time is the inventory events' `occurredAt`, never the
 * clock, so the same events give the same credits on every replay.
 *
 * A lease's capacity comes from a *pool* of GPUs of its class:
 *  - exclusive lease with a scope: the GPUs of the racks and halls in its scope;
 *  - exclusive lease without a scope (the whole cluster): every GPU of the class;
 *  - shared lease: every GPU of the class that no active exclusive lease fences off; shared leases draw on that
 *    pool together, so the pool is short by (sum of their commitments - available GPUs) and each lease carries
 *    the shortfall in proportion to its commitment.
 * The pool is short when it has fewer available GPUs than the commitment (spare GPUs absorb failures first), by
 * at most the number of its GPUs that are unavailable: capacity billing never saw (GPUs not commissioned yet,
 * or a pool smaller than what was sold) is not an outage of health, and has no event to show for it.
 */

export interface GpuAvailability {
  gpuId: string;
  rackId: string;
  hallId: string;
  available: boolean;
  /** The inventory event that put the GPU in this state. */
  eventId: string;
}

export interface AvailabilityChange extends GpuAvailability {
  atMs: number;
}

/** The GPUs of one class: their state at the start of a period and their changes in it, in log order. */
export interface ClassFleet {
  initial: readonly GpuAvailability[];
  changes: readonly AvailabilityChange[];
}

export interface ShortfallSegment extends Interval {
  /** GPUs the pool lacks to meet its demand over [startMs, endMs). */
  shortfallGpus: number;
  demandGpus: number;
  /** The events that made the pool's unavailable GPUs unavailable. */
  causeEventIds: string[];
}

export interface PoolDefinition {
  window: Interval;
  inPool: (gpu: { rackId: string; hallId: string }, atMs: number) => boolean;
  demandGpus: (atMs: number) => number;
  /** Instants inside the window where `demandGpus` may change. */
  breakpoints: readonly number[];
  /** Instants inside the window where `inPool` may change (the pool is recounted there). */
  poolChanges?: readonly number[];
}

const AVAILABLE = new Set(['healthy', 'degraded']);

/** Effective health (inventory's `health` field) -> counts as capacity or not. */
export function isAvailable(health: string): boolean {
  return AVAILABLE.has(health);
}

/** Sweeps the window: the segments where the pool has fewer available GPUs than its demand. */
export function poolShortfall(fleet: ClassFleet, pool: PoolDefinition): ShortfallSegment[] {
  const { startMs, endMs } = pool.window;
  if (endMs <= startMs) return [];
  const states = new Map<string, GpuAvailability>();
  for (const gpu of fleet.initial) states.set(gpu.gpuId, gpu);
  const changes = fleet.changes;
  let next = 0;
  while (next < changes.length && changes[next].atMs <= startMs) {
    states.set(changes[next].gpuId, changes[next]);
    next += 1;
  }
  const times = new Set<number>([startMs]);
  for (const at of [...pool.breakpoints, ...(pool.poolChanges ?? [])])
    if (at > startMs && at < endMs) times.add(at);
  for (let i = next; i < changes.length && changes[i].atMs < endMs; i++) times.add(changes[i].atMs);
  const points = [...times].sort((a, b) => a - b);
  const recountAt = new Set(pool.poolChanges ?? []);

  let available = 0;
  const unavailable = new Set<string>();
  const recount = (atMs: number) => {
    available = 0;
    unavailable.clear();
    for (const gpu of states.values()) {
      if (!pool.inPool(gpu, atMs)) continue;
      if (gpu.available) available += 1;
      else unavailable.add(gpu.gpuId);
    }
  };
  recount(startMs);

  const segments: ShortfallSegment[] = [];
  points.forEach((atMs, index) => {
    if (atMs !== startMs) {
      while (next < changes.length && changes[next].atMs <= atMs) {
        const change = changes[next++];
        const before = states.get(change.gpuId);
        states.set(change.gpuId, change);
        if (recountAt.has(atMs) || !pool.inPool(change, atMs)) continue;
        if (before && pool.inPool(before, atMs)) {
          if (before.available) available -= 1;
          else unavailable.delete(before.gpuId);
        }
        if (change.available) available += 1;
        else unavailable.add(change.gpuId);
      }
      if (recountAt.has(atMs)) recount(atMs);
    }
    const demand = pool.demandGpus(atMs);
    // Capacity that never was (GPUs not commissioned yet, a pool sold beyond its size) is not an outage: only
    // GPUs that health events took away count, so every credited second has an inventory event behind it.
    const shortfall = Math.min(demand - available, unavailable.size);
    if (shortfall <= 0) return;
    const segmentEnd = index + 1 < points.length ? points[index + 1] : endMs;
    segments.push({
      startMs: atMs,
      endMs: segmentEnd,
      shortfallGpus: shortfall,
      demandGpus: demand,
      causeEventIds: [...unavailable].map((gpuId) => states.get(gpuId)!.eventId),
    });
  });
  return segments;
}

/**
 * The GPU-seconds a lease lacked within `window`: in each short segment, its share (its GPUs / the pool's
 * demand) of the shortfall. The pool's GPU-milliseconds are summed per (lease GPUs, demand) pair, exactly (a
 * month of a 220,000-GPU pool is far below 2^53 GPU-ms), then the lease's share of each sum is taken once and
 * rounded UP to whole GPU-seconds, like availability is rounded down: rounding favours the tenant.
 */
export function leaseUnavailableGpuSeconds(
  segments: readonly ShortfallSegment[],
  leaseGpus: (atMs: number) => number,
  window: Interval = { startMs: -Infinity, endMs: Infinity },
): bigint {
  const sums = new Map<string, { share: number; demand: number; gpuMs: number }>();
  for (let i = firstEndingAfter(segments, window.startMs); i < segments.length; i++) {
    const segment = segments[i];
    if (segment.startMs >= window.endMs) break;
    const startMs = Math.max(segment.startMs, window.startMs);
    const endMs = Math.min(segment.endMs, window.endMs);
    const share = leaseGpus(startMs);
    if (share === 0 || segment.demandGpus <= 0 || endMs <= startMs) continue;
    const key = `${share}/${segment.demandGpus}`;
    let sum = sums.get(key);
    if (!sum) {
      sum = { share, demand: segment.demandGpus, gpuMs: 0 };
      sums.set(key, sum);
    }
    sum.gpuMs += segment.shortfallGpus * (endMs - startMs);
    if (!Number.isSafeInteger(sum.gpuMs)) throw new Error(`shortfall GPU-ms beyond 2^53: ${sum.gpuMs}`);
  }
  let gpuMs = 0n;
  for (const { share, demand, gpuMs: poolGpuMs } of sums.values())
    gpuMs += ceilDiv(BigInt(poolGpuMs) * BigInt(share), BigInt(demand));
  return ceilDiv(gpuMs, 1000n);
}

/** Index of the first segment (ordered, disjoint) that ends after `atMs`. */
function firstEndingAfter(segments: readonly Interval[], atMs: number): number {
  let low = 0;
  let high = segments.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (segments[middle].endMs <= atMs) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The events behind the short segments within a window. */
function causesWithin(segments: readonly ShortfallSegment[], window: Interval): string[] {
  const ids = new Set<string>();
  for (let i = firstEndingAfter(segments, window.startMs); i < segments.length; i++) {
    if (segments[i].startMs >= window.endMs) break;
    for (const id of segments[i].causeEventIds) ids.add(id);
  }
  return [...ids].sort();
}

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

export interface ClassOutage {
  leaseId: string;
  gpuClass: string;
  unavailableGpuSeconds: bigint;
  sourceEventIds: string[];
}

export interface OutageInput {
  period: string;
  /** The leases whose outages are wanted (one tenant's). */
  leases: readonly LeaseTerms[];
  /** Every lease billing knows: shared leases draw on one pool, exclusive ones fence GPUs off it. */
  allLeases: readonly LeaseTerms[];
  fleet: (gpuClass: string) => ClassFleet;
}

/** Per lease and class of `leases`: the GPU-seconds of commitment the fleet could not serve in the period. */
export function leaseOutages(input: OutageInput): ClassOutage[] {
  const bounds = periodBounds(input.period);
  const outages: ClassOutage[] = [];
  const sharedPools = new Map<string, ShortfallSegment[]>();
  // shared leases of one window share the pool's causes: gathered once per window
  const sharedCauses = new Map<string, string[]>();
  for (const lease of [...input.leases].sort((a, b) => (a.leaseId < b.leaseId ? -1 : 1))) {
    const segments = commitmentSegments(lease, bounds);
    if (segments.length === 0) continue;
    const window = { startMs: segments[0].startMs, endMs: segments[segments.length - 1].endMs };
    const classes = [
      ...new Set(segments.flatMap((s) => Object.keys(s.committedGpus).filter((c) => s.committedGpus[c]))),
    ].sort();
    for (const gpuClass of classes) {
      const leaseGpus = gpusAt(segments, gpuClass);
      let shortfall: ShortfallSegment[];
      if (lease.exclusivity === 'exclusive') {
        const racks = new Set(lease.scope?.rackIds ?? []);
        const halls = new Set(lease.scope?.hallIds ?? []);
        const wholeCluster = racks.size === 0 && halls.size === 0;
        const inScope = (gpu: { rackId: string; hallId: string }) =>
          wholeCluster || racks.has(gpu.rackId) || halls.has(gpu.hallId);
        const fleet = input.fleet(gpuClass);
        // the scope never changes within the sweep: sweep only its GPUs
        const scoped = wholeCluster
          ? fleet
          : { initial: fleet.initial.filter(inScope), changes: fleet.changes.filter(inScope) };
        shortfall = poolShortfall(scoped, {
          window,
          inPool: inScope,
          demandGpus: leaseGpus,
          breakpoints: segments.map((segment) => segment.startMs),
        });
      } else {
        let pool = sharedPools.get(gpuClass);
        if (!pool) {
          pool = poolShortfall(input.fleet(gpuClass), sharedPool(input.allLeases, gpuClass, bounds));
          sharedPools.set(gpuClass, pool);
        }
        shortfall = pool;
      }
      const unavailableGpuSeconds = leaseUnavailableGpuSeconds(shortfall, leaseGpus, window);
      if (unavailableGpuSeconds === 0n) continue;
      const causesKey = `${lease.exclusivity === 'exclusive' ? lease.leaseId : 'shared'}|${gpuClass}|${window.startMs}|${window.endMs}`;
      let sourceEventIds = sharedCauses.get(causesKey);
      if (!sourceEventIds) {
        sourceEventIds = causesWithin(shortfall, window);
        sharedCauses.set(causesKey, sourceEventIds);
      }
      outages.push({
        leaseId: lease.leaseId,
        gpuClass,
        unavailableGpuSeconds,
        sourceEventIds: [...sourceEventIds],
      });
    }
  }
  return outages;
}

/** The pool of shared leases of one class in a period: unfenced GPUs vs the sum of shared commitments. */
function sharedPool(allLeases: readonly LeaseTerms[], gpuClass: string, bounds: Interval): PoolDefinition {
  const shared = allLeases
    .filter((lease) => lease.exclusivity !== 'exclusive')
    .map((lease) => commitmentSegments(lease, bounds));
  const fences = allLeases
    .filter((lease) => lease.exclusivity === 'exclusive')
    .map((lease) => ({
      term: lease.term,
      racks: new Set(lease.scope?.rackIds ?? []),
      halls: new Set(lease.scope?.hallIds ?? []),
    }))
    .filter((fence) => fence.racks.size > 0 || fence.halls.size > 0);
  // which terms fence each rack and hall off, so a GPU is checked against its own rack and hall only
  const fencesByRack = new Map<string, Interval[]>();
  const fencesByHall = new Map<string, Interval[]>();
  const addFence = (index: Map<string, Interval[]>, id: string, term: Interval) => {
    const terms = index.get(id);
    if (terms) terms.push(term);
    else index.set(id, [term]);
  };
  for (const fence of fences) {
    for (const rackId of fence.racks) addFence(fencesByRack, rackId, fence.term);
    for (const hallId of fence.halls) addFence(fencesByHall, hallId, fence.term);
  }
  const breakpoints = new Set<number>();
  for (const segments of shared) for (const s of segments) breakpoints.add(s.startMs).add(s.endMs);
  const poolChanges = new Set<number>();
  for (const fence of fences) poolChanges.add(fence.term.startMs).add(fence.term.endMs);
  // Shared demand as a step function (sum of commitments between consecutive boundaries), looked up by binary
  // search: the sweep asks at every health change, and there are thousands of shared leases.
  const steps = [...breakpoints, bounds.startMs].sort((a, b) => a - b);
  const demands = steps.map((atMs) =>
    shared.reduce((sum, segments) => sum + gpusAt(segments, gpuClass)(atMs), 0),
  );
  const demandAt = (atMs: number) => {
    let low = 0;
    let high = steps.length - 1;
    if (atMs < steps[0]) return 0;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (steps[middle] <= atMs) low = middle;
      else high = middle - 1;
    }
    return demands[low];
  };
  return {
    window: bounds,
    inPool: (gpu, atMs) => {
      const fenced = (terms: Interval[] | undefined) =>
        terms?.some((term) => term.startMs <= atMs && atMs < term.endMs) ?? false;
      return !fenced(fencesByRack.get(gpu.rackId)) && !fenced(fencesByHall.get(gpu.hallId));
    },
    demandGpus: demandAt,
    breakpoints: [...breakpoints],
    poolChanges: [...poolChanges],
  };
}

function gpusAt(
  segments: readonly { startMs: number; endMs: number; committedGpus: CommittedGpus }[],
  gpuClass: string,
) {
  return (atMs: number) => {
    const segment = segments.find((s) => s.startMs <= atMs && atMs < s.endMs);
    return segment?.committedGpus[gpuClass] ?? 0;
  };
}
