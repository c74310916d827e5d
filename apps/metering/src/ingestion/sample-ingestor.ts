import { Injectable } from '@nestjs/common';
import { runInTransaction } from '@fleetledger/eventstore';
import { TelemetrySample } from '@fleetledger/contracts/metering';
import { DataSource } from 'typeorm';
import {
  contributionOf,
  hourStartOf,
  isBeyondRetention,
  sampleDayOf,
  sampleIdDigestTerm,
} from '../domain/quantities';
import { WindowKey } from '../domain/usage-record';
import { AttributionCache } from './attribution-cache';
import { SamplePartitions } from './sample-partitions';
import { addDelta, applyWindowDeltas, windowCacheKey, WindowDelta, windowIds } from './window-store';

export interface IngestResult {
  /** New samples stored (each counted exactly once, forever). */
  accepted: number;
  /** Sample ids seen before, in this batch or ever. */
  duplicates: number;
  /** Accepted but no placement known for the GPU at that time: pending, re-attributed on placement. */
  unattributed: number;
  /**
   * Indexes (into the batch) of samples refused because their day is archived (`beyond-retention`):
   * not stored, not counted; the caller dead-letters or rejects them.
   */
  beyondRetention: number[];
}

/**
 * Stores a batch of valid samples in ONE transaction: the permanent dedup (primary key
 * (sample_id, sample_day) of the day-partitioned samples table), the attribution to a usage window,
 * and the window's running sums. Redelivering a batch changes nothing. The caller commits its Kafka
 * offsets only after this returns.
 */
@Injectable()
export class SampleIngestor {
  /** Window ids of hours not closed yet (closed hours are pruned as the closer's watermark moves). */
  private readonly windowIdCache = new Map<string, number>();
  private windowCacheFromMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly dataSource: DataSource,
    private readonly attribution: AttributionCache,
    private readonly partitions: SamplePartitions,
  ) {}

  async ingest(batch: readonly TelemetrySample[], source: 'kafka' | 'http'): Promise<IngestResult> {
    const seen = new Set<string>();
    const rows: {
      index: number;
      sample: TelemetrySample;
      contribution: ReturnType<typeof contributionOf>;
      day: string;
      key?: WindowKey;
    }[] = [];
    batch.forEach((sample, index) => {
      if (seen.has(sample.sampleId)) return;
      seen.add(sample.sampleId);
      const contribution = contributionOf(sample);
      rows.push({ index, sample, contribution, day: sampleDayOf(contribution.attributedAtMs) });
    });
    if (rows.length === 0)
      return { accepted: 0, duplicates: batch.length, unattributed: 0, beyondRetention: [] };
    await this.partitions.ensure(rows.map((r) => r.day));

    const discovered = new Map<string, number>();
    const result = await runInTransaction(this.dataSource, async (tx) => {
      const snapshot = await this.attribution.sync(tx);
      const beyondRetention: number[] = [];
      const kept = rows.filter((r) => {
        if (!isBeyondRetention(r.day, snapshot.archivedBefore)) return true;
        beyondRetention.push(r.index);
        return false;
      });
      // Late samples (before the closer's watermark) may belong to placements pruned from memory.
      const late = kept.filter((r) => r.contribution.attributedAtMs < snapshot.completeFromMs);
      const older =
        late.length > 0
          ? await this.attribution.olderIndex(tx, [...new Set(late.map((r) => r.sample.gpuId))])
          : undefined;
      for (const row of kept) {
        const atMs = row.contribution.attributedAtMs;
        const index = atMs < snapshot.completeFromMs ? older! : snapshot.index;
        const holder = index.holderAt(row.sample.gpuId, atMs);
        row.key = holder && {
          leaseId: holder.leaseId,
          tenantId: holder.tenantId,
          gpuClass: holder.gpuClass,
          hourStartMs: hourStartOf(atMs),
        };
      }
      this.pruneWindowCache(snapshot.completeFromMs);
      const keys = kept.flatMap((r) => (r.key ? [r.key] : []));
      const ids = await windowIds(tx, keys, this.windowIdCache, discovered);
      const windowOf = (key: WindowKey | undefined) => (key ? ids.get(windowCacheKey(key))! : null);

      // One JSON parameter instead of eight arrays: node-postgres escapes array elements one by one,
      // JSON.stringify and Postgres' JSON parser are both native and much faster.
      const inserted =
        kept.length === 0
          ? []
          : await tx.query<{ sample_id: string }[]>(
              `INSERT INTO metering.samples (sample_id, sample_day, gpu_id, node_id, sampled_at, attributed_at, busy_ms, energy_mj, window_id, source)
               SELECT s, date '1970-01-01' + (a / 86400000)::int, g, n, t, to_timestamp(a / 1000.0), b, e, w, $2
                 FROM json_to_recordset($1::json)
                   AS x(s text, g text, n text, t timestamptz, a bigint, b int, e bigint, w bigint)
               ON CONFLICT (sample_id, sample_day) DO NOTHING RETURNING sample_id`,
              [
                JSON.stringify(
                  kept.map((r) => ({
                    s: r.sample.sampleId,
                    g: r.sample.gpuId,
                    n: r.sample.nodeId,
                    t: r.sample.sampledAt,
                    a: r.contribution.attributedAtMs,
                    b: r.contribution.busyMs,
                    e: r.contribution.energyMj,
                    w: windowOf(r.key),
                  })),
                ),
                source,
              ],
            );
      const fresh = new Set(inserted.map((row) => row.sample_id));
      const deltas = new Map<number, WindowDelta>();
      let unattributed = 0;
      for (const row of kept) {
        if (!fresh.has(row.sample.sampleId)) continue;
        const windowId = windowOf(row.key);
        if (windowId === null) {
          unattributed += 1;
          continue;
        }
        addDelta(deltas, windowId, {
          busyMs: row.contribution.busyMs,
          energyMj: row.contribution.energyMj,
          sampleCount: 1,
          digest: sampleIdDigestTerm(row.sample.sampleId),
        });
      }
      await applyWindowDeltas(tx, deltas);
      return {
        accepted: fresh.size,
        duplicates: batch.length - fresh.size - beyondRetention.length,
        unattributed,
        beyondRetention,
      };
    });
    for (const [key, id] of discovered)
      if (hourOfCacheKey(key) >= this.windowCacheFromMs) this.windowIdCache.set(key, id);
    return result;
  }

  /** Window ids cached in memory (tests: pruning keeps it bounded). */
  get cachedWindowIds(): number {
    return this.windowIdCache.size;
  }

  /** Closed hours leave the cache: a late sample for one looks its window up again (still exact). */
  private pruneWindowCache(closedBeforeMs: number): void {
    if (closedBeforeMs <= this.windowCacheFromMs) {
      if (closedBeforeMs < this.windowCacheFromMs) {
        // The database was rebuilt under us: ids may be stale.
        this.windowIdCache.clear();
        this.windowCacheFromMs = closedBeforeMs;
      }
      return;
    }
    this.windowCacheFromMs = closedBeforeMs;
    for (const key of this.windowIdCache.keys())
      if (hourOfCacheKey(key) < closedBeforeMs) this.windowIdCache.delete(key);
  }
}

function hourOfCacheKey(key: string): number {
  return Number(key.slice(key.lastIndexOf('|') + 1));
}
