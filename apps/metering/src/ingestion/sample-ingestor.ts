import { Injectable } from '@nestjs/common';
import { runInTransaction } from '@fleetledger/eventstore';
import { TelemetrySample } from '@fleetledger/contracts/metering';
import { DataSource } from 'typeorm';
import { contributionOf, hourStartOf, sampleIdDigestTerm } from '../domain/quantities';
import { WindowKey } from '../domain/usage-record';
import { AttributionCache } from './attribution-cache';
import { addDelta, applyWindowDeltas, windowCacheKey, WindowDelta, windowIds } from './window-store';

export interface IngestResult {
  /** New samples stored (each counted exactly once, forever). */
  accepted: number;
  /** Sample ids seen before, in this batch or ever. */
  duplicates: number;
  /** Accepted but no placement known for the GPU at that time: pending, re-attributed on placement. */
  unattributed: number;
}

/**
 * Stores a batch of valid samples in ONE transaction: the permanent dedup (sample_id primary key),
 * the attribution to a usage window, and the window's running sums. Redelivering a batch changes
 * nothing. The caller commits its Kafka offsets only after this returns.
 */
@Injectable()
export class SampleIngestor {
  private readonly windowIdCache = new Map<string, number>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly attribution: AttributionCache,
  ) {}

  async ingest(batch: readonly TelemetrySample[], source: 'kafka' | 'http'): Promise<IngestResult> {
    const unique = new Map<string, TelemetrySample>();
    for (const sample of batch) if (!unique.has(sample.sampleId)) unique.set(sample.sampleId, sample);
    if (unique.size === 0) return { accepted: 0, duplicates: batch.length, unattributed: 0 };

    const discovered = new Map<string, number>();
    const result = await runInTransaction(this.dataSource, async (tx) => {
      const index = await this.attribution.sync(tx);
      const rows = [...unique.values()].map((sample) => {
        const contribution = contributionOf(sample);
        const holder = index.holderAt(sample.gpuId, contribution.attributedAtMs);
        const key: WindowKey | undefined = holder && {
          leaseId: holder.leaseId,
          tenantId: holder.tenantId,
          gpuClass: holder.gpuClass,
          hourStartMs: hourStartOf(contribution.attributedAtMs),
        };
        return { sample, contribution, key };
      });
      const keys = rows.flatMap((r) => (r.key ? [r.key] : []));
      const ids = await windowIds(tx, keys, this.windowIdCache, discovered);
      const windowOf = (key: WindowKey | undefined) => (key ? ids.get(windowCacheKey(key))! : null);

      // One JSON parameter instead of eight arrays: node-postgres escapes array elements one by one,
      // JSON.stringify and Postgres' JSON parser are both native and much faster.
      const inserted = await tx.query<{ sample_id: string }[]>(
        `INSERT INTO metering.samples (sample_id, gpu_id, node_id, sampled_at, attributed_at, busy_ms, energy_mj, window_id, source)
         SELECT s, g, n, t, to_timestamp(a / 1000.0), b, e, w, $2 FROM json_to_recordset($1::json)
             AS x(s text, g text, n text, t timestamptz, a bigint, b int, e bigint, w bigint)
         ON CONFLICT (sample_id) DO NOTHING RETURNING sample_id`,
        [
          JSON.stringify(
            rows.map((r) => ({
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
      for (const row of rows) {
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
      return { accepted: fresh.size, duplicates: batch.length - fresh.size, unattributed };
    });
    for (const [key, id] of discovered) this.windowIdCache.set(key, id);
    return result;
  }
}
