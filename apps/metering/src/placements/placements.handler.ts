import { Injectable } from '@nestjs/common';
import { allocation, EventEnvelope } from '@fleetledger/contracts';
import { Queryable } from '@fleetledger/eventstore';
import {
  AttributionIndex,
  evolveInterval,
  PlacementInterval,
  placementFactFrom,
} from '../domain/attribution';
import { hourStartOf, HOUR_MS, sampleIdDigestTerm, subtractDigest } from '../domain/quantities';
import { WindowKey } from '../domain/usage-record';
import { intervalFromRow, PLACEMENT_COLUMNS, PlacementRow } from '../ingestion/placement-rows';
import {
  addDelta,
  applyWindowDeltas,
  windowCacheKey,
  WindowDelta,
  windowIds,
} from '../ingestion/window-store';

/**
 * Consumes allocation's placement events (through the inbox: exactly once in effect) into
 * attribution intervals, and moves samples whose holder changed: samples that arrived before their
 * placement was known get rated, samples after a release learned late leave the lease. Closed
 * windows touched become dirty, and the closer corrects them.
 */
@Injectable()
export class PlacementsHandler {
  // Registered as consumer `metering-placements` by api/placements.consumer.ts (placements and allocation's watermarks).
  async handle(event: EventEnvelope, tx: Queryable): Promise<void> {
    if (event.type === allocation.PartitionWatermarkAdvanced.type)
      return recordWatermark(tx, 'placements', event);
    const fact = placementFactFrom(event);
    if (!fact) return;
    // Exclusive: waits for ingestion batches in flight (they hold it FOR SHARE), and holds new ones off.
    const [head] = await tx.query<{ version: string }[]>(
      `WITH bumped AS (UPDATE metering.attribution_head SET version = version + 1 WHERE id = 1 RETURNING version) SELECT version FROM bumped`,
    );
    const version = Number(head.version);
    const [row] = await tx.query<PlacementRow[]>(
      `SELECT ${PLACEMENT_COLUMNS} FROM metering.placements WHERE placement_id = $1 FOR UPDATE`,
      [fact.placementId],
    );
    const previous = row ? intervalFromRow(row) : undefined;
    const next = evolveInterval(previous, fact);
    await tx.query(
      `INSERT INTO metering.placements (${PLACEMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (placement_id) DO UPDATE SET gpu_ids = EXCLUDED.gpu_ids, start_at = EXCLUDED.start_at,
         end_at = EXCLUDED.end_at, event_ids = EXCLUDED.event_ids, version = EXCLUDED.version`,
      [
        next.placementId,
        next.workloadId,
        next.leaseId,
        next.tenantId,
        next.gpuClass,
        next.gpuIds,
        next.startMs === undefined ? null : new Date(next.startMs).toISOString(),
        next.endMs === undefined ? null : new Date(next.endMs).toISOString(),
        next.eventIds,
        version,
      ],
    );
    if (!previous) {
      await tx.query(
        `INSERT INTO metering.placement_gpus (gpu_id, placement_id) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING`,
        [next.gpuIds, next.placementId],
      );
    }
    const changed = changedRange(previous, next);
    if (!changed) return;
    await this.reattributeSamples(tx, next.gpuIds, changed);
    await this.touchWindows(tx, next, changed);
  }

  /** Re-runs attribution for the placement's GPUs over the changed range and moves what changed. */
  private async reattributeSamples(
    tx: Queryable,
    gpuIds: readonly string[],
    range: { fromMs: number; toMs: number },
  ) {
    const samples = await tx.query<
      {
        sample_id: string;
        sample_day: string;
        /** attributed_at exactly as stored (part of the primary key). */
        attributed_key: string;
        gpu_id: string;
        attributed_at: Date;
        busy_ms: number;
        energy_mj: string;
        window_id: string | null;
      }[]
    >(
      // The samples of these GPUs in the range are among the unattributed ones (partial index on time)
      // and those in windows of a lease that holds, or held, a placement on one of them (window index):
      // a sample is only ever attributed to its holder's lease. See migration 1764000000600.
      `WITH leases AS (
         SELECT DISTINCT p.lease_id, p.gpu_class FROM metering.placement_gpus g
           JOIN metering.placements p ON p.placement_id = g.placement_id
          WHERE g.gpu_id = ANY($1::text[])),
       windows AS (
         SELECT w.window_id FROM metering.usage_windows w JOIN leases l ON l.lease_id = w.lease_id AND l.gpu_class = w.gpu_class
          WHERE w.hour_start >= $4::timestamptz AND w.hour_start < $3::timestamptz)
       SELECT sample_id, sample_day::text AS sample_day, gpu_id, attributed_at, attributed_at::text AS attributed_key,
              busy_ms, energy_mj, window_id
         FROM metering.samples
        WHERE window_id IS NULL AND gpu_id = ANY($1::text[])
          AND attributed_at >= $2 AND attributed_at < $3
          AND sample_day >= ($2::timestamptz AT TIME ZONE 'UTC')::date
          AND sample_day <= ($3::timestamptz AT TIME ZONE 'UTC')::date
       UNION ALL
       SELECT sample_id, sample_day::text AS sample_day, gpu_id, attributed_at, attributed_at::text AS attributed_key,
              busy_ms, energy_mj, window_id
         FROM metering.samples
        WHERE window_id IS NOT NULL AND window_id = ANY(ARRAY(SELECT window_id FROM windows)) AND gpu_id = ANY($1::text[])
          AND attributed_at >= $2 AND attributed_at < $3
          AND sample_day >= ($2::timestamptz AT TIME ZONE 'UTC')::date
          AND sample_day <= ($3::timestamptz AT TIME ZONE 'UTC')::date`,
      [gpuIds, timestamp(range.fromMs), timestamp(range.toMs), timestamp(hourStartOf(range.fromMs))],
    );
    if (samples.length === 0) return;
    const placements = await tx.query<PlacementRow[]>(
      `SELECT ${PLACEMENT_COLUMNS} FROM metering.placements
        WHERE placement_id IN (SELECT placement_id FROM metering.placement_gpus WHERE gpu_id = ANY($1::text[]))`,
      [[...new Set(samples.map((s) => s.gpu_id))]],
    );
    const index = new AttributionIndex();
    for (const p of placements) index.put(intervalFromRow(p));
    const targets = samples.map((s) => {
      const atMs = s.attributed_at.getTime();
      const holder = index.holderAt(s.gpu_id, atMs);
      const key: WindowKey | undefined = holder && {
        leaseId: holder.leaseId,
        tenantId: holder.tenantId,
        gpuClass: holder.gpuClass,
        hourStartMs: hourStartOf(atMs),
      };
      return { sample: s, key };
    });
    const ids = await windowIds(
      tx,
      targets.flatMap((t) => (t.key ? [t.key] : [])),
    );
    const deltas = new Map<number, WindowDelta>();
    const moves: { sampleId: string; sampleDay: string; attributedKey: string; windowId: number | null }[] =
      [];
    for (const { sample, key } of targets) {
      const from = sample.window_id === null ? null : Number(sample.window_id);
      const to = key ? ids.get(windowCacheKey(key))! : null;
      if (from === to) continue;
      const term = sampleIdDigestTerm(sample.sample_id);
      const energyMj = Number(sample.energy_mj);
      if (from !== null)
        addDelta(deltas, from, {
          busyMs: -sample.busy_ms,
          energyMj: -energyMj,
          sampleCount: -1,
          digest: subtractDigest(0n, term),
        });
      if (to !== null)
        addDelta(deltas, to, { busyMs: sample.busy_ms, energyMj, sampleCount: 1, digest: term });
      moves.push({
        sampleId: sample.sample_id,
        sampleDay: sample.sample_day,
        attributedKey: sample.attributed_key,
        windowId: to,
      });
    }
    if (moves.length === 0) return;
    await tx.query(
      `UPDATE metering.samples s SET window_id = m.window_id
         FROM unnest($1::text[], $2::date[], $3::timestamptz[], $4::bigint[]) AS m(sample_id, sample_day, attributed_at, window_id)
        WHERE s.attributed_at = m.attributed_at AND s.sample_id = m.sample_id AND s.sample_day = m.sample_day`,
      [
        moves.map((m) => m.sampleId),
        moves.map((m) => m.sampleDay),
        moves.map((m) => m.attributedKey),
        moves.map((m) => m.windowId),
      ],
    );
    await applyWindowDeltas(tx, deltas);
  }

  /**
   * Allocated time of the lease moved within the range: closed windows there become dirty, and hours
   * already past the closer's progress that had no window yet get one (the closer records it).
   */
  private async touchWindows(
    tx: Queryable,
    interval: PlacementInterval,
    range: { fromMs: number; toMs: number },
  ) {
    const fromHour = hourStartOf(range.fromMs);
    const toMs = range.toMs;
    await tx.query(
      `UPDATE metering.usage_windows SET dirty = true
        WHERE lease_id = $1 AND gpu_class = $2 AND status = 'closed' AND hour_start >= $3 AND hour_start < $4`,
      [interval.leaseId, interval.gpuClass, timestamp(fromHour), timestamp(toMs)],
    );
    const [progress] = await tx.query<{ closed_before: Date | null }[]>(
      `SELECT closed_before FROM metering.close_progress WHERE id = 1`,
    );
    if (!progress.closed_before || interval.startMs === undefined) return;
    const until = Math.min(
      interval.endMs ?? Number.POSITIVE_INFINITY,
      toMs,
      progress.closed_before.getTime(),
    );
    const keys: WindowKey[] = [];
    for (let hour = Math.max(fromHour, hourStartOf(interval.startMs)); hour < until; hour += HOUR_MS) {
      keys.push({
        leaseId: interval.leaseId,
        tenantId: interval.tenantId,
        gpuClass: interval.gpuClass,
        hourStartMs: hour,
      });
    }
    await windowIds(tx, keys);
  }
}

/** The span of time whose holder may differ between two versions of an interval; undefined if none. */
export function changedRange(
  previous: PlacementInterval | undefined,
  next: PlacementInterval,
): { fromMs: number; toMs: number } | undefined {
  const INF = Number.POSITIVE_INFINITY;
  const span = (i: PlacementInterval | undefined) =>
    i && i.startMs !== undefined ? [i.startMs, i.endMs ?? INF] : undefined;
  const a = span(previous);
  const b = span(next);
  if (!a && !b) return undefined;
  if (!a) return { fromMs: b![0], toMs: b![1] };
  if (!b) return { fromMs: a[0], toMs: a[1] };
  if (a[0] === b[0] && a[1] === b[1]) return undefined;
  const differing = [a[0] !== b[0] ? [a[0], b[0]] : [], a[1] !== b[1] ? [a[1], b[1]] : []].flat();
  return { fromMs: Math.min(...differing), toMs: Math.max(...differing) };
}

/** An instant for Postgres; an open end is 'infinity'. */
function timestamp(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : 'infinity';
}

/**
 * Issue #22: the latest watermark handled from one partition of an input (never moves back: a
 * redelivered older marker changes nothing).
 */
async function recordWatermark(tx: Queryable, input: string, event: EventEnvelope): Promise<void> {
  const mark = event.payload as allocation.PartitionWatermarkAdvancedPayload;
  await tx.query(
    `INSERT INTO metering.input_watermarks (input, topic, partition, partitions, watermark, source, event_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (input, partition) DO UPDATE SET
       topic = EXCLUDED.topic, partitions = EXCLUDED.partitions, watermark = EXCLUDED.watermark,
       source = EXCLUDED.source, event_id = EXCLUDED.event_id
     WHERE metering.input_watermarks.watermark < EXCLUDED.watermark`,
    [input, mark.topic, mark.partition, mark.partitions, mark.watermark, mark.source, event.eventId],
  );
}
