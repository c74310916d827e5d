import { allocation } from '@fleetledger/contracts';
import { GpuClass } from '@fleetledger/contracts/metering';
import { HOUR_MS } from './quantities';

/**
 * Attribution: which lease, tenant and workload held each GPU over time.
 *
 * A placement opens one interval `[placedAt, endedAt)` for all of its GPUs; WorkloadReleased,
 * WorkloadPreempted and WorkloadEvicted close every GPU of that placement (allocation's contract).
 * Facts may arrive out of order (an end before its placement): an interval counts only once its
 * start is known, and an end known early is kept until then.
 */
export interface PlacementOpened {
  kind: 'opened';
  eventId: string;
  placementId: string;
  workloadId: string;
  leaseId: string;
  tenantId: string;
  gpuClass: GpuClass;
  gpuIds: readonly string[];
  atMs: number;
}

export interface PlacementClosed extends Omit<PlacementOpened, 'kind'> {
  kind: 'closed';
  cause: 'released' | 'preempted' | 'evicted';
}

export type PlacementFact = PlacementOpened | PlacementClosed;

export interface PlacementInterval {
  placementId: string;
  workloadId: string;
  leaseId: string;
  tenantId: string;
  gpuClass: GpuClass;
  gpuIds: readonly string[];
  startMs?: number;
  endMs?: number;
  eventIds: string[];
}

/** Reads allocation's placement events as attribution facts; other allocation events are not facts. */
export function placementFactFrom(event: {
  eventId: string;
  type: string;
  payload: unknown;
}): PlacementFact | undefined {
  const base = (p: {
    workloadId: string;
    placementId: string;
    tenantId: string;
    leaseId: string;
    gpuClass: GpuClass;
    gpuIds: string[];
  }) => ({
    eventId: event.eventId,
    placementId: p.placementId,
    workloadId: p.workloadId,
    leaseId: p.leaseId,
    tenantId: p.tenantId,
    gpuClass: p.gpuClass,
    gpuIds: p.gpuIds,
  });
  if (!allocation.isAllocationEvent(event)) return undefined;
  switch (event.type) {
    case allocation.WorkloadPlaced.type: {
      const p = event.payload;
      return { kind: 'opened', ...base(p), atMs: Date.parse(p.placedAt) };
    }
    case allocation.WorkloadReleased.type: {
      const p = event.payload;
      return { kind: 'closed', cause: 'released', ...base(p), atMs: Date.parse(p.releasedAt) };
    }
    case allocation.WorkloadPreempted.type: {
      const p = event.payload;
      return { kind: 'closed', cause: 'preempted', ...base(p), atMs: Date.parse(p.preemptedAt) };
    }
    case allocation.WorkloadEvicted.type: {
      const p = event.payload;
      return { kind: 'closed', cause: 'evicted', ...base(p), atMs: Date.parse(p.evictedAt) };
    }
    default:
      return undefined;
  }
}

/** evolve: the interval of a placement after one more fact. Idempotent for a repeated fact. */
export function evolveInterval(
  current: PlacementInterval | undefined,
  fact: PlacementFact,
): PlacementInterval {
  const interval: PlacementInterval = current
    ? { ...current, eventIds: [...current.eventIds] }
    : {
        placementId: fact.placementId,
        workloadId: fact.workloadId,
        leaseId: fact.leaseId,
        tenantId: fact.tenantId,
        gpuClass: fact.gpuClass,
        gpuIds: fact.gpuIds,
        eventIds: [],
      };
  if (!interval.eventIds.includes(fact.eventId)) interval.eventIds.push(fact.eventId);
  if (fact.kind === 'opened') {
    interval.startMs = fact.atMs;
    interval.gpuIds = fact.gpuIds;
  } else {
    // The earliest end wins: a placement cannot be un-ended by a second closing fact.
    interval.endMs = interval.endMs === undefined ? fact.atMs : Math.min(interval.endMs, fact.atMs);
  }
  return interval;
}

/** Overlap in ms of an interval with `[fromMs, toMs)`; 0 when its start is not known yet. */
export function overlapMs(interval: PlacementInterval, fromMs: number, toMs: number): number {
  if (interval.startMs === undefined) return 0;
  const start = Math.max(interval.startMs, fromMs);
  const end = Math.min(interval.endMs ?? Number.POSITIVE_INFINITY, toMs);
  return Math.max(0, end - start);
}

export interface LeaseClassKey {
  leaseId: string;
  tenantId: string;
  gpuClass: GpuClass;
}

/** GPU-milliseconds allocated to (lease, class) within one UTC hour, from the intervals alone. */
export function allocatedGpuMs(
  intervals: Iterable<PlacementInterval>,
  key: LeaseClassKey,
  hourStartMs: number,
): number {
  let total = 0;
  for (const interval of intervals) {
    if (interval.leaseId !== key.leaseId || interval.gpuClass !== key.gpuClass) continue;
    total += interval.gpuIds.length * overlapMs(interval, hourStartMs, hourStartMs + HOUR_MS);
  }
  return total;
}

/** Every (lease, class) that held at least one GPU for some time during the hour. */
export function leaseClassesAllocatedIn(
  intervals: Iterable<PlacementInterval>,
  hourStartMs: number,
): LeaseClassKey[] {
  const keys = new Map<string, LeaseClassKey>();
  for (const interval of intervals) {
    if (overlapMs(interval, hourStartMs, hourStartMs + HOUR_MS) <= 0) continue;
    const key = { leaseId: interval.leaseId, tenantId: interval.tenantId, gpuClass: interval.gpuClass };
    keys.set(`${key.leaseId}|${key.gpuClass}`, key);
  }
  return [...keys.values()];
}

/**
 * The per-GPU lookup: who held a GPU at an instant. Built from intervals, no I/O; the service keeps
 * one in memory and feeds it every fact it commits.
 */
export class AttributionIndex {
  private readonly byPlacement = new Map<string, PlacementInterval>();
  private readonly byGpu = new Map<string, PlacementInterval[]>();

  apply(fact: PlacementFact): PlacementInterval {
    return this.put(evolveInterval(this.byPlacement.get(fact.placementId), fact));
  }

  put(interval: PlacementInterval): PlacementInterval {
    const previous = this.byPlacement.get(interval.placementId);
    if (previous) {
      for (const gpuId of previous.gpuIds) {
        const list = this.byGpu.get(gpuId)?.filter((i) => i.placementId !== interval.placementId) ?? [];
        if (list.length > 0) this.byGpu.set(gpuId, list);
        else this.byGpu.delete(gpuId);
      }
    }
    this.byPlacement.set(interval.placementId, interval);
    for (const gpuId of interval.gpuIds) this.byGpu.set(gpuId, [...(this.byGpu.get(gpuId) ?? []), interval]);
    return interval;
  }

  /** The interval holding `gpuId` at `atMs` (start inclusive, end exclusive), if any. */
  holderAt(gpuId: string, atMs: number): PlacementInterval | undefined {
    const list = this.byGpu.get(gpuId);
    if (!list) return undefined;
    // A plain loop: this runs once per sample on the ingestion path.
    for (let k = 0; k < list.length; k++) {
      const i = list[k];
      if (i.startMs !== undefined && i.startMs <= atMs && (i.endMs === undefined || atMs < i.endMs)) return i;
    }
    return undefined;
  }

  /** Forgets one placement's interval. */
  remove(placementId: string): void {
    const interval = this.byPlacement.get(placementId);
    if (!interval) return;
    for (const gpuId of interval.gpuIds) {
      const list = this.byGpu.get(gpuId)?.filter((i) => i.placementId !== placementId) ?? [];
      if (list.length > 0) this.byGpu.set(gpuId, list);
      else this.byGpu.delete(gpuId);
    }
    this.byPlacement.delete(placementId);
  }

  /**
   * Forgets intervals that ended at or before `beforeMs` (memory bound): afterwards the index answers
   * only for instants >= `beforeMs`, and a caller must look older instants up elsewhere. Returns how
   * many intervals were dropped.
   */
  prune(beforeMs: number): number {
    let dropped = 0;
    for (const interval of [...this.byPlacement.values()]) {
      if (AttributionIndex.relevantAfter(interval, beforeMs)) continue;
      this.remove(interval.placementId);
      dropped += 1;
    }
    return dropped;
  }

  /** Whether the index may hold this interval at all once pruned before `beforeMs`. */
  static relevantAfter(interval: PlacementInterval, beforeMs: number): boolean {
    return interval.endMs === undefined || interval.endMs > beforeMs;
  }

  intervals(): IterableIterator<PlacementInterval> {
    return this.byPlacement.values();
  }

  get size(): number {
    return this.byPlacement.size;
  }

  /** GPUs with at least one interval (what pruning shrinks along with `size`). */
  get gpuCount(): number {
    return this.byGpu.size;
  }
}
