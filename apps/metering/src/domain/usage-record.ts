import {
  fromMilliUnits,
  GpuClass,
  UsageCorrectedPayload,
  usageRecordId,
  UsageRecordedPayload,
} from '@fleetledger/contracts/metering';
import { digestHex, HOUR_MS, subtractDigest } from './quantities';

/** One usage window: a lease, a GPU class and a UTC hour. */
export interface WindowKey {
  leaseId: string;
  tenantId: string;
  gpuClass: GpuClass;
  hourStartMs: number;
}

/** Running sums of one window, all integers. */
export interface WindowSums {
  allocatedGpuMs: number;
  busyMs: number;
  energyMj: number;
  sampleCount: number;
  /** Sum mod 2^64 of the digest terms of the samples counted. */
  digest: bigint;
}

/** What a record says, in the contract's milli-units (what a correction is computed against). */
export interface RecordTotals {
  allocatedGpuMs: number;
  busyMs: number;
  energyMilliWh: number;
  sampleCount: number;
  digest: bigint;
}

export const EMPTY_SUMS: WindowSums = {
  allocatedGpuMs: 0,
  busyMs: 0,
  energyMj: 0,
  sampleCount: 0,
  digest: 0n,
};

export function windowRecordId(key: WindowKey): string {
  return usageRecordId(key.leaseId, key.gpuClass, new Date(key.hourStartMs).toISOString());
}

/** A window of hour H is closed once the watermark reaches H + 1 h + lateness. */
export function isWindowDue(hourStartMs: number, latenessMs: number, asOfMs: number): boolean {
  return asOfMs >= hourStartMs + HOUR_MS + latenessMs;
}

/** Every window whose hour starts before this instant is due at `asOfMs`. */
export function dueBeforeMs(latenessMs: number, asOfMs: number): number {
  return Math.floor((asOfMs - latenessMs) / HOUR_MS) * HOUR_MS;
}

export function totalsOf(sums: WindowSums): RecordTotals {
  return {
    allocatedGpuMs: sums.allocatedGpuMs,
    busyMs: sums.busyMs,
    // millijoules -> milliwatt-hours, rounded half up (integer arithmetic, exact below 2^53).
    energyMilliWh: Math.floor((sums.energyMj + 1800) / 3600),
    sampleCount: sums.sampleCount,
    digest: sums.digest,
  };
}

export function sameTotals(a: RecordTotals, b: RecordTotals): boolean {
  return (
    a.allocatedGpuMs === b.allocatedGpuMs &&
    a.busyMs === b.busyMs &&
    a.energyMilliWh === b.energyMilliWh &&
    a.sampleCount === b.sampleCount &&
    a.digest === b.digest
  );
}

function contractTotals(t: RecordTotals) {
  return {
    gpuSecondsAllocated: fromMilliUnits(t.allocatedGpuMs),
    gpuSecondsBusy: fromMilliUnits(t.busyMs),
    energyWh: fromMilliUnits(t.energyMilliWh),
    sampleCount: t.sampleCount,
  };
}

export function buildUsageRecorded(
  key: WindowKey,
  totals: RecordTotals,
  closedAtMs: number,
  placementEventIds: readonly string[],
): UsageRecordedPayload {
  return {
    usageRecordId: windowRecordId(key),
    leaseId: key.leaseId,
    tenantId: key.tenantId,
    gpuClass: key.gpuClass,
    hourStart: new Date(key.hourStartMs).toISOString(),
    closedAt: new Date(closedAtMs).toISOString(),
    sources: { sampleDigest: digestHex(totals.digest), placementEventIds: [...placementEventIds].sort() },
    ...contractTotals(totals),
  };
}

/**
 * decide: the correction that brings a published record to `current`, or nothing when they agree.
 * The reason is 'late-placement-event' when allocated time moved (only placements change it),
 * otherwise 'late-samples'.
 */
export function decideCorrection(
  key: WindowKey,
  published: RecordTotals,
  current: RecordTotals,
  correctionSeq: number,
  correctedAtMs: number,
  placementEventIds: readonly string[],
): UsageCorrectedPayload | undefined {
  if (sameTotals(published, current)) return undefined;
  const recordId = windowRecordId(key);
  return {
    usageCorrectionId: `${recordId}#${correctionSeq}`,
    usageRecordId: recordId,
    correctionSeq,
    leaseId: key.leaseId,
    tenantId: key.tenantId,
    gpuClass: key.gpuClass,
    hourStart: new Date(key.hourStartMs).toISOString(),
    reason: current.allocatedGpuMs !== published.allocatedGpuMs ? 'late-placement-event' : 'late-samples',
    correctedAt: new Date(correctedAtMs).toISOString(),
    delta: {
      gpuSecondsAllocated: fromMilliUnits(current.allocatedGpuMs - published.allocatedGpuMs),
      gpuSecondsBusy: fromMilliUnits(current.busyMs - published.busyMs),
      energyWh: fromMilliUnits(current.energyMilliWh - published.energyMilliWh),
      sampleCount: current.sampleCount - published.sampleCount,
    },
    totalsAfter: contractTotals(current),
    sources: {
      sampleDigest: digestHex(subtractDigest(current.digest, published.digest)),
      placementEventIds: [...placementEventIds].sort(),
    },
  };
}
