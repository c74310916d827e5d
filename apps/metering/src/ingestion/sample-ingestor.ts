import { Injectable } from '@nestjs/common';
import { runInTransaction } from '@fleetledger/eventstore';
import { TelemetrySample } from '@fleetledger/contracts/metering';
import { DataSource } from 'typeorm';
import { contributionOf, hourStartOf, sampleIdDigestTerm } from '../domain/quantities';
import { WindowKey, windowRecordId } from '../domain/usage-record';
import { AttributionCache } from './attribution-cache';
import { addDelta, applyWindowDeltas, WindowDelta, windowIds } from './window-store';

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

    return runInTransaction(this.dataSource, async (tx) => {
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
      const ids = await windowIds(tx, keys, this.windowIdCache);
      const windowOf = (key: WindowKey | undefined) => (key ? ids.get(windowRecordId(key))! : null);

      const inserted = await tx.query<{ sample_id: string }[]>(
        `INSERT INTO metering.samples (sample_id, gpu_id, node_id, sampled_at, attributed_at, busy_ms, energy_mj, window_id, source)
         SELECT *, $9 FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::int[], $7::bigint[], $8::bigint[])
         ON CONFLICT (sample_id) DO NOTHING RETURNING sample_id`,
        [
          rows.map((r) => r.sample.sampleId),
          rows.map((r) => r.sample.gpuId),
          rows.map((r) => r.sample.nodeId),
          rows.map((r) => r.sample.sampledAt),
          rows.map((r) => new Date(r.contribution.attributedAtMs).toISOString()),
          rows.map((r) => r.contribution.busyMs),
          rows.map((r) => r.contribution.energyMj),
          rows.map((r) => windowOf(r.key)),
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
  }
}
