import { energyWhFromMillijoules, gpuSecondsFromMs } from './quantities';

/**
 * Usage per workload: each placement of a workload is an interval [startAt, endAt) on its GPUs. Allocated
 * GPU-time is GPUs x the interval's length; a running interval (no end yet) counts up to `asOf` when one is
 * given, and reports no allocated time otherwise (a read never takes the wall clock). Busy time and energy are
 * the samples on those GPUs inside the interval.
 */

export interface PlacementInterval {
  placementId: string;
  gpuClass: string;
  gpuIds: string[];
  startMs: number | null;
  endMs: number | null;
  eventIds: string[];
  samples: { count: number; busyMs: number; energyMj: number };
}

export interface WorkloadInterval {
  placementId: string;
  gpuClass: string;
  gpuCount: number;
  startAt: string | null;
  endAt: string | null;
  running: boolean;
  /** GPU-seconds with 3 decimals; null for a running interval without `asOf`. */
  gpuSecondsAllocated: string | null;
  gpuSecondsBusy: string;
  energyWh: string;
  sampleCount: number;
  /** The allocation events the interval came from. */
  eventIds: string[];
}

export function allocatedGpuMs(interval: PlacementInterval, asOfMs?: number): number | null {
  if (interval.startMs === null) return 0;
  const endMs = interval.endMs ?? asOfMs;
  if (endMs === undefined) return null;
  return interval.gpuIds.length * Math.max(0, endMs - interval.startMs);
}

/** The intervals in start order (unstarted last), with totals over them. */
export function workloadUsage(intervals: readonly PlacementInterval[], asOfMs?: number) {
  const ordered = [...intervals].sort(
    (a, b) => (a.startMs ?? Infinity) - (b.startMs ?? Infinity) || (a.placementId < b.placementId ? -1 : 1),
  );
  let allocatedMs = 0;
  let allocatedKnown = true;
  let busyMs = 0;
  let energyMj = 0;
  let sampleCount = 0;
  const rows: WorkloadInterval[] = ordered.map((interval) => {
    const allocated = allocatedGpuMs(interval, asOfMs);
    if (allocated === null) allocatedKnown = false;
    else allocatedMs += allocated;
    busyMs += interval.samples.busyMs;
    energyMj += interval.samples.energyMj;
    sampleCount += interval.samples.count;
    return {
      placementId: interval.placementId,
      gpuClass: interval.gpuClass,
      gpuCount: interval.gpuIds.length,
      startAt: interval.startMs === null ? null : new Date(interval.startMs).toISOString(),
      endAt: interval.endMs === null ? null : new Date(interval.endMs).toISOString(),
      running: interval.startMs !== null && interval.endMs === null,
      gpuSecondsAllocated: allocated === null ? null : gpuSecondsFromMs(allocated),
      gpuSecondsBusy: gpuSecondsFromMs(interval.samples.busyMs),
      energyWh: energyWhFromMillijoules(interval.samples.energyMj),
      sampleCount: interval.samples.count,
      eventIds: interval.eventIds,
    };
  });
  return {
    intervals: rows,
    totals: {
      gpuSecondsAllocated: allocatedKnown ? gpuSecondsFromMs(allocatedMs) : null,
      gpuSecondsBusy: gpuSecondsFromMs(busyMs),
      energyWh: energyWhFromMillijoules(energyMj),
      sampleCount,
    },
  };
}
