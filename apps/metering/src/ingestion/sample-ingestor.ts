import { Injectable } from '@nestjs/common';
import { runInTransaction } from '@fleetledger/eventstore';
import { TelemetrySample } from '@fleetledger/contracts/metering';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { DataSource, EntityManager } from 'typeorm';
import { PlacementInterval } from '../domain/attribution';
import {
  contributionOf,
  DAY_MS,
  hourStartOf,
  isBeyondRetention,
  SAMPLE_PERIOD_MS,
  SampleContribution,
  sampleDayOf,
} from '../domain/quantities';
import { WindowKey } from '../domain/usage-record';
import { AttributionCache } from './attribution-cache';
import { copyInteger, copyText } from './copy-text';
import { SamplePartitions } from './sample-partitions';
import { applyWindowDeltas, windowCacheKey, WindowDelta, windowIds } from './window-store';

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
 * (attributed_at, sample_id, sample_day) of the day-partitioned samples table), the attribution to a usage window,
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
    const rows: SampleRow[] = [];
    const days = new DayMemo();
    for (let index = 0; index < batch.length; index++) {
      const sample = batch[index];
      if (seen.has(sample.sampleId)) continue;
      seen.add(sample.sampleId);
      const contribution = contributionOf(sample);
      rows.push({ index, sample, contribution, day: days.of(contribution.attributedAtMs), windowId: null });
    }
    if (rows.length === 0)
      return { accepted: 0, duplicates: batch.length, unattributed: 0, beyondRetention: [] };
    await this.partitions.ensure(days.seen());

    const discovered = new Map<string, number>();
    const result = await runInTransaction(this.dataSource, async (tx) => {
      const snapshot = await this.attribution.sync(tx);
      const beyondRetention: number[] = [];
      const kept =
        snapshot.archivedBefore === null
          ? rows
          : rows.filter((r) => {
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
      // One window key per (holder, hour) of the batch, shared by its samples.
      const keysByHolder = new Map<PlacementInterval, Map<number, WindowKey>>();
      const keys: WindowKey[] = [];
      const rowKeys: (WindowKey | undefined)[] = [];
      for (const row of kept) {
        const atMs = row.contribution.attributedAtMs;
        const index = atMs < snapshot.completeFromMs ? older! : snapshot.index;
        const holder = index.holderAt(row.sample.gpuId, atMs);
        if (!holder) {
          rowKeys.push(undefined);
          continue;
        }
        const hourStartMs = hourStartOf(atMs);
        let byHour = keysByHolder.get(holder);
        if (!byHour) keysByHolder.set(holder, (byHour = new Map()));
        let key = byHour.get(hourStartMs);
        if (!key) {
          key = {
            leaseId: holder.leaseId,
            tenantId: holder.tenantId,
            gpuClass: holder.gpuClass,
            hourStartMs,
          };
          byHour.set(hourStartMs, key);
          keys.push(key);
        }
        rowKeys.push(key);
      }
      this.pruneWindowCache(snapshot.completeFromMs);
      const ids = await windowIds(tx, keys, this.windowIdCache, discovered);
      const idOfKey = new Map(keys.map((key) => [key, ids.get(windowCacheKey(key))!]));
      kept.forEach((row, i) => (row.windowId = rowKeys[i] ? idOfKey.get(rowKeys[i]!)! : null));

      // The batch is streamed with COPY into a session temp table (COPY's text format is the cheapest
      // input Postgres parses: 2-3 times cheaper per row than a JSON parameter), then ONE statement
      // inserts it and returns only what the NEW rows add to each window: counts, sums and the
      // sample-id digest (same rule as sampleIdDigestTerm: first 8 bytes of sha256, summed modulo
      // 2^64), so duplicates add nothing and no per-sample row comes back.
      const added =
        kept.length === 0
          ? []
          : await (async () => {
              await copyIncoming(tx, kept);
              return tx.query<
                { window_id: string | null; n: number; busy: string; energy: string; digest: string }[]
              >(
                `WITH ins AS (
                   INSERT INTO metering.samples (sample_id, sample_day, gpu_id, node_id, sampled_at, attributed_at, busy_ms, energy_mj, window_id, source)
                   SELECT s, date '1970-01-01' + (a / 86400000)::int, g, n, to_timestamp((a + ${SAMPLE_PERIOD_MS / 2}) / 1000.0),
                          to_timestamp(a / 1000.0), b, e, w, $1
                     FROM pg_temp.${INCOMING}
                   ON CONFLICT (attributed_at, sample_id, sample_day) DO NOTHING
                   RETURNING window_id, busy_ms, energy_mj, sample_id)
                 SELECT window_id, count(*)::int AS n, sum(busy_ms)::text AS busy, sum(energy_mj)::text AS energy,
                        mod(mod(sum(('x' || left(encode(sha256(convert_to(sample_id, 'UTF8')), 'hex'), 16))::bit(64)::bigint::numeric),
                                18446744073709551616) + 18446744073709551616, 18446744073709551616)::text AS digest
                   FROM ins GROUP BY window_id`,
                [source],
              );
            })();
      const deltas = new Map<number, WindowDelta>();
      let accepted = 0;
      let unattributed = 0;
      for (const row of added) {
        accepted += row.n;
        if (row.window_id === null) {
          unattributed += row.n;
          continue;
        }
        deltas.set(Number(row.window_id), {
          busyMs: Number(row.busy),
          energyMj: Number(row.energy),
          sampleCount: row.n,
          digest: BigInt(row.digest),
        });
      }
      await applyWindowDeltas(tx, deltas);
      return {
        accepted,
        duplicates: batch.length - accepted - beyondRetention.length,
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

/** The session temp table a batch is copied into; emptied at every commit (and rollback). */
const INCOMING = 'metering_incoming_samples';

/**
 * Streams the rows into the transaction's `INCOMING` table with COPY (text format). The table is
 * created if this session has none: asked in every transaction (a catalog lookup when it exists),
 * not remembered per pooled client, so that it also holds behind a transaction-mode pooler
 * (PgBouncer), where consecutive transactions may run on different server sessions.
 */
async function copyIncoming(tx: EntityManager, rows: readonly SampleRow[]): Promise<void> {
  await tx.query(
    `CREATE TEMP TABLE IF NOT EXISTS ${INCOMING} (s text, g text, n text, a bigint, b int, e bigint, w bigint) ON COMMIT DELETE ROWS`,
  );
  const client = (await tx.queryRunner!.connect()) as PoolClient;
  let text = '';
  for (const r of rows)
    text += `${copyText(r.sample.sampleId)}\t${copyText(r.sample.gpuId)}\t${copyText(r.sample.nodeId)}\t${copyInteger(r.contribution.attributedAtMs)}\t${copyInteger(r.contribution.busyMs)}\t${copyInteger(r.contribution.energyMj)}\t${copyInteger(r.windowId)}\n`;
  await pipeline(Readable.from([text]), client.query(copyFrom(`COPY pg_temp.${INCOMING} FROM STDIN`)));
}

interface SampleRow {
  index: number;
  sample: TelemetrySample;
  contribution: SampleContribution;
  day: string;
  windowId: number | null;
}

/** `sampleDayOf` without a Date per sample: a batch spans a day or two. */
class DayMemo {
  private readonly days = new Map<number, string>();

  of(epochMs: number): string {
    const dayNumber = Math.floor(epochMs / DAY_MS);
    let day = this.days.get(dayNumber);
    if (day === undefined) this.days.set(dayNumber, (day = sampleDayOf(epochMs)));
    return day;
  }

  seen(): Iterable<string> {
    return this.days.values();
  }
}

function hourOfCacheKey(key: string): number {
  return Number(key.slice(key.lastIndexOf('|') + 1));
}
