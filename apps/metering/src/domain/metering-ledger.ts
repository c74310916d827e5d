import {
  TelemetrySample,
  UsageCorrectedPayload,
  UsageRecordedPayload,
} from '@fleetledger/contracts/metering';
import { allocatedGpuMs, AttributionIndex, leaseClassesAllocatedIn, PlacementFact } from './attribution';
import {
  addDigest,
  contributionOf,
  hourStartOf,
  HOUR_MS,
  sampleIdDigestTerm,
  SampleContribution,
} from './quantities';
import {
  buildUsageRecorded,
  decideCorrection,
  dueBeforeMs,
  EMPTY_SUMS,
  RecordTotals,
  totalsOf,
  WindowKey,
  windowRecordId,
  WindowSums,
} from './usage-record';

export type MeteringOutput =
  { type: 'recorded'; payload: UsageRecordedPayload } | { type: 'corrected'; payload: UsageCorrectedPayload };

interface StoredSample extends SampleContribution {
  sampleId: string;
  gpuId: string;
  digestTerm: bigint;
}

interface Published {
  totals: RecordTotals;
  corrections: number;
}

export interface PendingSamples {
  /** Attributed to a lease, in an hour whose window has not closed yet. */
  awaitingClose: number;
  /** No placement held the GPU at the sample's instant (idle GPU, or placement not known yet). */
  unattributed: number;
}

/**
 * The whole metering rule set in memory: dedup, attribution, hourly windows, close after lateness,
 * corrections for anything learned after close. It recomputes every window from its inputs on each
 * close, so it is correct by construction and slow by design: the reference the service's
 * incremental, Postgres-backed implementation is tested against, and the spec in executable form.
 */
export class MeteringLedger {
  private readonly samples = new Map<string, StoredSample>();
  private readonly attribution = new AttributionIndex();
  private readonly published = new Map<string, Published>();

  constructor(private readonly latenessMs: number) {}

  /** Accepts valid samples; a sample id seen before (ever) is a duplicate and changes nothing. */
  ingest(samples: readonly TelemetrySample[]): { accepted: number; duplicates: number } {
    let accepted = 0;
    for (const sample of samples) {
      if (this.samples.has(sample.sampleId)) continue;
      this.samples.set(sample.sampleId, {
        sampleId: sample.sampleId,
        gpuId: sample.gpuId,
        digestTerm: sampleIdDigestTerm(sample.sampleId),
        ...contributionOf(sample),
      });
      accepted += 1;
    }
    return { accepted, duplicates: samples.length - accepted };
  }

  applyPlacement(fact: PlacementFact): void {
    this.attribution.apply(fact);
  }

  /** Closes every window due at `asOfMs` and corrects closed ones that changed, in a stable order. */
  close(asOfMs: number): MeteringOutput[] {
    const dueBefore = dueBeforeMs(this.latenessMs, asOfMs);
    const windows = this.windowsBefore(dueBefore);
    const outputs: MeteringOutput[] = [];
    const ordered = [...windows.values()].sort(
      (a, b) =>
        a.key.hourStartMs - b.key.hourStartMs ||
        a.key.leaseId.localeCompare(b.key.leaseId) ||
        a.key.gpuClass.localeCompare(b.key.gpuClass),
    );
    for (const { key, sums } of ordered) {
      const recordId = windowRecordId(key);
      const totals = totalsOf(sums);
      const eventIds = this.placementEventIds(key);
      const previous = this.published.get(recordId);
      if (!previous) {
        outputs.push({ type: 'recorded', payload: buildUsageRecorded(key, totals, asOfMs, eventIds) });
        this.published.set(recordId, { totals, corrections: 0 });
        continue;
      }
      const correction = decideCorrection(
        key,
        previous.totals,
        totals,
        previous.corrections + 1,
        asOfMs,
        eventIds,
      );
      if (correction) {
        outputs.push({ type: 'corrected', payload: correction });
        this.published.set(recordId, { totals, corrections: previous.corrections + 1 });
      }
    }
    return outputs;
  }

  pending(asOfMs: number): PendingSamples {
    const dueBefore = dueBeforeMs(this.latenessMs, asOfMs);
    const result: PendingSamples = { awaitingClose: 0, unattributed: 0 };
    for (const sample of this.samples.values()) {
      const holder = this.attribution.holderAt(sample.gpuId, sample.attributedAtMs);
      if (!holder) result.unattributed += 1;
      else if (hourStartOf(sample.attributedAtMs) >= dueBefore) result.awaitingClose += 1;
    }
    return result;
  }

  private windowsBefore(dueBefore: number): Map<string, { key: WindowKey; sums: WindowSums }> {
    const windows = new Map<string, { key: WindowKey; sums: WindowSums }>();
    const windowFor = (key: WindowKey) => {
      const id = windowRecordId(key);
      let entry = windows.get(id);
      if (!entry) windows.set(id, (entry = { key, sums: { ...EMPTY_SUMS } }));
      return entry;
    };
    for (const sample of this.samples.values()) {
      const hourStartMs = hourStartOf(sample.attributedAtMs);
      if (hourStartMs >= dueBefore) continue;
      const holder = this.attribution.holderAt(sample.gpuId, sample.attributedAtMs);
      if (!holder) continue;
      const { sums } = windowFor({
        leaseId: holder.leaseId,
        tenantId: holder.tenantId,
        gpuClass: holder.gpuClass,
        hourStartMs,
      });
      sums.busyMs += sample.busyMs;
      sums.energyMj += sample.energyMj;
      sums.sampleCount += 1;
      sums.digest = addDigest(sums.digest, sample.digestTerm);
    }
    const intervals = [...this.attribution.intervals()];
    const hours = new Set<number>();
    for (const interval of intervals) {
      if (interval.startMs === undefined) continue;
      const last = Math.min(interval.endMs ?? dueBefore, dueBefore);
      for (let hour = hourStartOf(interval.startMs); hour < last; hour += HOUR_MS) hours.add(hour);
    }
    for (const hourStartMs of hours) {
      for (const leaseClass of leaseClassesAllocatedIn(intervals, hourStartMs)) {
        windowFor({ ...leaseClass, hourStartMs }).sums.allocatedGpuMs = allocatedGpuMs(
          intervals,
          leaseClass,
          hourStartMs,
        );
      }
    }
    return windows;
  }

  private placementEventIds(key: WindowKey): string[] {
    const ids: string[] = [];
    for (const interval of this.attribution.intervals()) {
      if (interval.leaseId === key.leaseId && interval.gpuClass === key.gpuClass) {
        const start = interval.startMs ?? Number.POSITIVE_INFINITY;
        const end = interval.endMs ?? Number.POSITIVE_INFINITY;
        if (start < key.hourStartMs + HOUR_MS && end > key.hourStartMs) ids.push(...interval.eventIds);
      }
    }
    return ids;
  }
}
