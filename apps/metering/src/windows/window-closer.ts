import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  BeforeApplicationShutdown,
} from '@nestjs/common';
import { newEvent, servicePrincipal } from '@fleetledger/contracts';
import {
  GpuClass,
  UsageCorrected,
  UsageRecorded,
  usageRecordStreamId,
  UsageWindowsClosed,
  UsageWindowsClosedPayload,
} from '@fleetledger/contracts/metering';
import {
  applyAll,
  EventStore,
  partitionStreamIds,
  Queryable,
  runInTransaction,
  StreamAppend,
  topicPartitionCount,
} from '@fleetledger/eventstore';
import { KAFKA, Messaging, Metrics, runAs } from '@fleetledger/platform';
import { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { v5 as uuidv5 } from 'uuid';
import { allocatedGpuMs, PlacementInterval } from '../domain/attribution';
import { CloseLimit, closeBound, inputWatermarkMs, lateByMs } from '../domain/closing';
import { hourStartOf, HOUR_MS } from '../domain/quantities';
import {
  buildUsageRecorded,
  decideCorrection,
  RecordTotals,
  totalsOf,
  WindowKey,
} from '../domain/usage-record';
import { intervalFromRow, PLACEMENT_COLUMNS, PlacementRow } from '../ingestion/placement-rows';
import { windowIds } from '../ingestion/window-store';
import { METERING_ENV, MeteringEnv } from '../metering.config';
import { usageProjection } from '../projections/usage.projection';

/** Namespace for metering's deterministic event ids (uuid v5 of the record / correction id). */
const EVENT_ID_NAMESPACE = '6f1c0e55-9a59-4b8e-a1d8-0c9f3f1e7d42';

interface WindowRow {
  window_id: string;
  lease_id: string;
  tenant_id: string;
  gpu_class: string;
  hour_start: Date;
  busy_ms: string;
  energy_mj: string;
  sample_count: string;
  digest: string;
  status: 'open' | 'closed';
  published: {
    allocatedGpuMs: number;
    busyMs: number;
    energyMilliWh: number;
    sampleCount: number;
    digest: string;
    /** When the window was closed (ms; absent on windows closed before issue #22). */
    closedAtMs?: number;
  } | null;
  corrections: number;
}

export interface CloseResult {
  /** null: nothing has ever closed (an input has no watermark yet). */
  closedBefore: string | null;
  recorded: number;
  corrected: number;
  /** What held the bound (issue #22), and each input's watermark as seen. */
  limitedBy: CloseLimit;
  inputs: UsageWindowsClosedPayload['inputs'];
}

/**
 * Closes usage windows: every window whose hour ended more than the allowed lateness before `asOf`
 * is recorded (UsageRecorded), and every closed window that changed since it was published is
 * corrected (UsageCorrected with the deltas). Events, outbox rows, projections and window state
 * commit in one transaction; event ids are deterministic, so a retried close cannot record twice.
 * `asOf` is an input: the timer passes the wall clock, tests and operators pass an instant.
 */
@Injectable()
export class WindowCloser implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WindowCloser.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EventStore,
    private readonly messaging: Messaging,
    private readonly metrics: Metrics,
    @Inject(METERING_ENV) private readonly env: MeteringEnv,
    @Inject(KAFKA) private readonly kafka: Kafka,
  ) {}

  /** Stream ids keyed to each partition of metering's events topic (its progress markers), read once. */
  private progressStreams?: Promise<string[]>;
  private progressStreamIds(): Promise<string[]> {
    this.progressStreams ??= topicPartitionCount(this.kafka, this.messaging.eventsTopic).then(
      (partitions) => partitionStreamIds('metering', partitions),
      (error: Error) => {
        this.progressStreams = undefined;
        throw error;
      },
    );
    return this.progressStreams;
  }

  onApplicationBootstrap(): void {
    if (this.env.METERING_CLOSE_INTERVAL_MS <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      // The scheduled close acts as the metering service (an operator's POST /metering/windows/close
      // records the operator instead).
      this.running = runAs(servicePrincipal('metering'), () => this.close(Date.now()))
        .catch((error: Error) =>
          this.logger.error(`window close failed (retried next tick): ${error.message}`),
        )
        .finally(() => (this.running = undefined));
    }, this.env.METERING_CLOSE_INTERVAL_MS);
  }

  /**
   * Before TypeORM closes its pool (onApplicationShutdown): on SIGTERM the in-flight batch still commits
   * its rows and then its offset, so a rolling restart redelivers nothing (test/faults, graceful shutdown).
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async close(
    asOfMs: number,
    correlationId = `metering-close-${new Date(asOfMs).toISOString()}`,
  ): Promise<CloseResult> {
    const progressStreams = await this.progressStreamIds();
    return runInTransaction(this.dataSource, async (tx) => {
      await tx.query(`SELECT version FROM metering.attribution_head WHERE id = 1 FOR SHARE`);
      const [progress] = await tx.query<{ closed_before: Date | null; progress_version: number }[]>(
        `SELECT closed_before, progress_version FROM metering.close_progress WHERE id = 1 FOR UPDATE`,
      );
      // Issue #22: the hour closes on min(wall clock - lateness, the placements' watermark).
      const marks = await tx.query<{ partition: number; partitions: number; watermark: Date }[]>(
        `SELECT partition, partitions, watermark FROM metering.input_watermarks WHERE input = 'placements'`,
      );
      const placementsMs = inputWatermarkMs(
        marks.map((m) => ({
          partition: m.partition,
          partitions: m.partitions,
          watermarkMs: m.watermark.getTime(),
        })),
      );
      const bound = closeBound(asOfMs, this.env.METERING_LATENESS_MS, [
        {
          input: 'placements',
          required: this.env.METERING_PLACEMENT_WATERMARK === 'required',
          watermarkMs: placementsMs,
        },
      ]);
      const inputs: UsageWindowsClosedPayload['inputs'] = [
        {
          input: 'placements',
          watermark: placementsMs === null ? null : new Date(placementsMs).toISOString(),
          lagMs: placementsMs === null ? null : asOfMs - placementsMs,
        },
      ];
      const dueBefore = Number.isFinite(bound.dueBeforeMs) ? bound.dueBeforeMs : undefined;
      const closedBefore = progress.closed_before?.getTime();
      if (dueBefore !== undefined && (closedBefore === undefined || dueBefore > closedBefore))
        await this.createAllocatedWindows(tx, closedBefore, dueBefore);

      const windows = await tx.query<WindowRow[]>(
        `SELECT window_id, lease_id, tenant_id, gpu_class, hour_start, busy_ms, energy_mj, sample_count, digest::text AS digest,
                status, published, corrections
           FROM metering.usage_windows WHERE (status = 'open' AND hour_start < $1::timestamptz) OR dirty
          ORDER BY window_id FOR UPDATE`,
        [dueBefore === undefined ? null : new Date(dueBefore).toISOString()],
      );
      const intervals = await this.intervalsFor(tx, windows);
      const appends: StreamAppend[] = [];
      const updates: {
        windowId: number;
        published: RecordTotals;
        corrections: number;
        closedAtMs: number | undefined;
      }[] = [];
      let recorded = 0;
      let corrected = 0;
      for (const row of windows) {
        const key: WindowKey = {
          leaseId: row.lease_id,
          tenantId: row.tenant_id,
          gpuClass: row.gpu_class as GpuClass,
          hourStartMs: row.hour_start.getTime(),
        };
        const lease = intervals.get(`${key.leaseId}|${key.gpuClass}`) ?? [];
        const totals = totalsOf({
          allocatedGpuMs: allocatedGpuMs(lease, key, key.hourStartMs),
          busyMs: Number(row.busy_ms),
          energyMj: Number(row.energy_mj),
          sampleCount: Number(row.sample_count),
          digest: BigInt(row.digest),
        });
        const eventIds = placementEventIdsIn(lease, key.hourStartMs);
        if (row.status === 'open') {
          const payload = buildUsageRecorded(key, totals, asOfMs, eventIds);
          appends.push({
            streamId: usageRecordStreamId(payload.usageRecordId),
            expectedVersion: 0,
            events: [
              newEvent(
                UsageRecorded,
                payload,
                payload.closedAt,
                uuidv5(payload.usageRecordId, EVENT_ID_NAMESPACE),
              ),
            ],
          });
          updates.push({
            windowId: Number(row.window_id),
            published: totals,
            corrections: 0,
            closedAtMs: asOfMs,
          });
          recorded += 1;
          continue;
        }
        const published = { ...row.published!, digest: BigInt(row.published!.digest) };
        const decided = decideCorrection(key, published, totals, row.corrections + 1, asOfMs, eventIds);
        // Issue #22: a correction says which input was late (its reason) and by how much.
        const late = lateByMs(row.published!.closedAtMs, asOfMs);
        const correction = decided && (late === undefined ? decided : { ...decided, lateByMs: late });
        if (correction) {
          appends.push({
            streamId: usageRecordStreamId(correction.usageRecordId),
            expectedVersion: row.corrections + 1,
            events: [
              newEvent(
                UsageCorrected,
                correction,
                correction.correctedAt,
                uuidv5(correction.usageCorrectionId, EVENT_ID_NAMESPACE),
              ),
            ],
          });
          corrected += 1;
        }
        updates.push({
          windowId: Number(row.window_id),
          published: totals,
          corrections: row.corrections + (correction ? 1 : 0),
          closedAtMs: row.published!.closedAtMs,
        });
      }

      // Issue #22: metering's own progress, one marker per partition, after the records it covers (same
      // append, later positions, so the relay publishes each marker after them on its partition).
      const newClosedBefore =
        dueBefore === undefined ? closedBefore : Math.max(closedBefore ?? dueBefore, dueBefore);
      if (newClosedBefore !== undefined && newClosedBefore !== closedBefore) {
        progressStreams.forEach((streamId, partition) => {
          const payload: UsageWindowsClosedPayload = {
            partition,
            partitions: progressStreams.length,
            closedBefore: new Date(newClosedBefore).toISOString(),
            previousClosedBefore: closedBefore === undefined ? null : new Date(closedBefore).toISOString(),
            limitedBy: bound.limitedBy,
            inputs,
            closedAt: new Date(asOfMs).toISOString(),
          };
          appends.push({
            streamId,
            expectedVersion: progress.progress_version,
            events: [
              newEvent(
                UsageWindowsClosed,
                payload,
                payload.closedAt,
                uuidv5(`${streamId}|${payload.closedBefore}`, EVENT_ID_NAMESPACE),
              ),
            ],
          });
        });
      }
      const appended = await this.store.appendToStreams(tx, appends, {
        correlationId,
        topic: this.messaging.eventsTopic,
      });
      await applyAll(tx, usageProjection, appended, this.store.schema);
      for (const event of appended) this.metrics.eventsAppended.inc({ type: event.type });
      if (updates.length > 0) {
        await tx.query(
          `UPDATE metering.usage_windows w SET status = 'closed', dirty = false, published = u.published, corrections = u.corrections
             FROM unnest($1::bigint[], $2::jsonb[], $3::int[]) AS u(window_id, published, corrections) WHERE w.window_id = u.window_id`,
          [
            updates.map((u) => u.windowId),
            updates.map((u) =>
              JSON.stringify({
                ...u.published,
                digest: u.published.digest.toString(),
                closedAtMs: u.closedAtMs,
              }),
            ),
            updates.map((u) => u.corrections),
          ],
        );
      }
      if (newClosedBefore !== undefined && newClosedBefore !== closedBefore)
        await tx.query(
          `UPDATE metering.close_progress SET closed_before = $1, progress_version = progress_version + 1 WHERE id = 1`,
          [new Date(newClosedBefore).toISOString()],
        );
      this.refreshGauges(asOfMs, placementsMs, newClosedBefore);
      return {
        closedBefore: newClosedBefore === undefined ? null : new Date(newClosedBefore).toISOString(),
        recorded,
        corrected,
        limitedBy: bound.limitedBy,
        inputs,
      };
    });
  }

  /** Issue #22: each input's watermark and metering's own (closed-before), with their lag, as gauges. */
  private refreshGauges(
    nowMs: number,
    placementsMs: number | null,
    closedBeforeMs: number | undefined,
  ): void {
    if (placementsMs !== null) {
      this.metrics.watermark.set({ input: 'placements' }, placementsMs / 1000);
      this.metrics.watermarkLag.set({ input: 'placements' }, (nowMs - placementsMs) / 1000);
    }
    if (closedBeforeMs !== undefined) {
      this.metrics.watermark.set({ input: 'own' }, closedBeforeMs / 1000);
      this.metrics.watermarkLag.set({ input: 'own' }, (nowMs - closedBeforeMs) / 1000);
    }
  }

  /** Allocated time is metered even without samples: every hour a placement covers gets a window. */
  private async createAllocatedWindows(
    tx: Queryable,
    fromMs: number | undefined,
    dueBefore: number,
  ): Promise<void> {
    const rows = await tx.query<PlacementRow[]>(
      `SELECT ${PLACEMENT_COLUMNS} FROM metering.placements
        WHERE start_at IS NOT NULL AND start_at < $1 AND ($2::timestamptz IS NULL OR end_at IS NULL OR end_at > $2)`,
      [new Date(dueBefore).toISOString(), fromMs === undefined ? null : new Date(fromMs).toISOString()],
    );
    const keys: WindowKey[] = [];
    for (const interval of rows.map(intervalFromRow)) {
      const first = Math.max(hourStartOf(interval.startMs!), fromMs ?? Number.NEGATIVE_INFINITY);
      const end = Math.min(interval.endMs ?? Number.POSITIVE_INFINITY, dueBefore);
      for (let hour = first; hour < end; hour += HOUR_MS) {
        keys.push({
          leaseId: interval.leaseId,
          tenantId: interval.tenantId,
          gpuClass: interval.gpuClass,
          hourStartMs: hour,
        });
      }
    }
    await windowIds(tx, keys);
  }

  private async intervalsFor(tx: Queryable, windows: WindowRow[]): Promise<Map<string, PlacementInterval[]>> {
    const byLease = new Map<string, PlacementInterval[]>();
    if (windows.length === 0) return byLease;
    const leases = [...new Set(windows.map((w) => w.lease_id))];
    const hours = windows.map((w) => w.hour_start.getTime());
    const rows = await tx.query<PlacementRow[]>(
      `SELECT ${PLACEMENT_COLUMNS} FROM metering.placements
        WHERE lease_id = ANY($1::text[]) AND start_at IS NOT NULL AND start_at < $2 AND (end_at IS NULL OR end_at > $3)`,
      [
        leases,
        new Date(hours.reduce((a, b) => Math.max(a, b)) + HOUR_MS).toISOString(),
        new Date(hours.reduce((a, b) => Math.min(a, b))).toISOString(),
      ],
    );
    for (const interval of rows.map(intervalFromRow)) {
      const key = `${interval.leaseId}|${interval.gpuClass}`;
      byLease.set(key, [...(byLease.get(key) ?? []), interval]);
    }
    return byLease;
  }
}

function placementEventIdsIn(intervals: readonly PlacementInterval[], hourStartMs: number): string[] {
  return intervals
    .filter((i) => (i.startMs ?? Infinity) < hourStartMs + HOUR_MS && (i.endMs ?? Infinity) > hourStartMs)
    .flatMap((i) => i.eventIds);
}
