import { Injectable } from '@nestjs/common';
import { fromMilliUnits } from '@fleetledger/contracts/metering';
import { DataSource } from 'typeorm';
import { allocatedShareOfHealthy, gpuMsPerHour } from '../domain/fleet-capacity';
import { hourStartOf, HOUR_MS } from '../domain/quantities';
import { PlacementInterval, workloadUsage } from '../domain/workload-usage';
import { ident } from '@fleetledger/eventstore';
import { METERING_SCHEMA } from '../metering.options';

const S = ident(METERING_SCHEMA);

export interface UsageFilter {
  tenantId?: string;
  leaseId?: string;
  gpuClass?: string;
  from?: string;
  to?: string;
}

export interface PendingSamples {
  /** Every sample ever accepted (deduplicated), archived days included (their counts are kept). */
  accepted: number;
  /** Counted in a published usage record (with its corrections). */
  rated: number;
  /** Attributed to a lease, in a window that has not closed yet. */
  awaitingClose: number;
  /** Arrived after its window closed; the next close publishes the correction. */
  awaitingCorrection: number;
  /**
   * No placement known for the GPU at that time (idle GPU, or placement event not seen yet). Those in
   * archived days stay counted here: they can no longer be re-attributed.
   */
  unattributed: number;
}

/** Read side: usage records, cluster utilization, and where every accepted sample stands. */
@Injectable()
export class UsageQueries {
  constructor(private readonly dataSource: DataSource) {}

  /** accepted = rated + awaitingClose + awaitingCorrection + unattributed, always. */
  async pending(): Promise<PendingSamples> {
    const [row] = await this.dataSource.query<Record<string, string>[]>(`
      SELECT (SELECT count(*) FROM ${S}.samples)
               + (SELECT coalesce(sum(samples), 0) FROM ${S}.sample_archive) AS accepted,
             (SELECT count(*) FROM ${S}.samples WHERE window_id IS NULL)
               + (SELECT coalesce(sum(unattributed), 0) FROM ${S}.sample_archive) AS unattributed,
             (SELECT coalesce(sum(sample_count), 0) FROM ${S}.usage_windows WHERE status = 'open') AS awaiting_close,
             (SELECT coalesce(sum(sample_count - (published->>'sampleCount')::bigint), 0) FROM ${S}.usage_windows WHERE dirty) AS awaiting_correction,
             (SELECT coalesce(sum((published->>'sampleCount')::bigint), 0) FROM ${S}.usage_windows WHERE status = 'closed') AS rated`);
    return {
      accepted: Number(row.accepted),
      rated: Number(row.rated),
      awaitingClose: Number(row.awaiting_close),
      awaitingCorrection: Number(row.awaiting_correction),
      unattributed: Number(row.unattributed),
    };
  }

  /**
   * Usage of one workload, interval by interval (domain/workload-usage.ts): its placements from allocation's
   * events, and the samples on each placement's GPUs inside it. Undefined when metering knows no placement of it.
   */
  async workloadUsage(workloadId: string, asOfMs?: number) {
    const rows = await this.dataSource.query<
      {
        placement_id: string;
        lease_id: string;
        tenant_id: string;
        gpu_class: string;
        gpu_ids: string[];
        start_at: Date | null;
        end_at: Date | null;
        event_ids: string[];
        sample_count: number;
        busy_ms: string;
        energy_mj: string;
      }[]
    >(
      `SELECT p.placement_id, p.lease_id, p.tenant_id, p.gpu_class, p.gpu_ids, p.start_at, p.end_at, p.event_ids,
              coalesce(s.sample_count, 0) AS sample_count, coalesce(s.busy_ms, 0)::text AS busy_ms,
              coalesce(s.energy_mj, 0)::text AS energy_mj
         FROM ${S}.placements p
         LEFT JOIN LATERAL (
           SELECT count(*)::int AS sample_count, sum(x.busy_ms) AS busy_ms, sum(x.energy_mj) AS energy_mj
             FROM unnest(p.gpu_ids) AS g(gpu_id)
             JOIN ${S}.samples x ON x.gpu_id = g.gpu_id AND x.attributed_at >= p.start_at
                                    AND (p.end_at IS NULL OR x.attributed_at < p.end_at)
                                    AND ($2::timestamptz IS NULL OR x.attributed_at < $2)
            WHERE p.start_at IS NOT NULL
         ) s ON true
        WHERE p.workload_id = $1`,
      [workloadId, asOfMs === undefined ? null : new Date(asOfMs).toISOString()],
    );
    if (rows.length === 0) return undefined;
    const intervals: PlacementInterval[] = rows.map((row) => ({
      placementId: row.placement_id,
      gpuClass: row.gpu_class,
      gpuIds: row.gpu_ids,
      startMs: row.start_at?.getTime() ?? null,
      endMs: row.end_at?.getTime() ?? null,
      eventIds: row.event_ids,
      samples: { count: row.sample_count, busyMs: Number(row.busy_ms), energyMj: Number(row.energy_mj) },
    }));
    return {
      workloadId,
      tenantId: rows[0].tenant_id,
      leaseId: rows[0].lease_id,
      ...workloadUsage(intervals, asOfMs),
    };
  }

  async usage(filter: UsageFilter) {
    const conditions: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      conditions.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.tenantId) add('tenant_id = ?', filter.tenantId);
    if (filter.leaseId) add('lease_id = ?', filter.leaseId);
    if (filter.gpuClass) add('gpu_class = ?', filter.gpuClass);
    if (filter.from) add('hour_start >= ?', filter.from);
    if (filter.to) add('hour_start < ?', filter.to);
    const rows = await this.dataSource.query<Record<string, string | number | Date>[]>(
      `SELECT usage_record_id, lease_id, tenant_id, gpu_class, hour_start, gpu_ms_allocated, busy_ms, energy_mwh, sample_count, corrections
         FROM ${S}.usage_by_record ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
        ORDER BY hour_start, lease_id, gpu_class LIMIT 10000`,
      params,
    );
    const records = rows.map((r) => ({
      usageRecordId: String(r.usage_record_id),
      leaseId: String(r.lease_id),
      tenantId: String(r.tenant_id),
      gpuClass: String(r.gpu_class),
      hourStart: (r.hour_start as Date).toISOString(),
      gpuSecondsAllocated: fromMilliUnits(BigInt(r.gpu_ms_allocated as string)),
      gpuSecondsBusy: fromMilliUnits(BigInt(r.busy_ms as string)),
      energyWh: fromMilliUnits(BigInt(r.energy_mwh as string)),
      sampleCount: Number(r.sample_count),
      corrections: Number(r.corrections),
    }));
    const sum = (field: 'gpu_ms_allocated' | 'busy_ms' | 'energy_mwh') =>
      rows.reduce((t, r) => t + BigInt(r[field] as string), 0n);
    return {
      records,
      totals: {
        gpuSecondsAllocated: fromMilliUnits(sum('gpu_ms_allocated')),
        gpuSecondsBusy: fromMilliUnits(sum('busy_ms')),
        energyWh: fromMilliUnits(sum('energy_mwh')),
        sampleCount: records.reduce((t, r) => t + r.sampleCount, 0),
      },
    };
  }

  /**
   * Per class and hour: allocated GPU time (closed usage records with their corrections), how much of
   * it was busy, and the fleet it came from (healthy and in-service GPU time, from inventory's
   * events). `allocatedShareOfHealthy` is the operator's "40% -> 85%" figure; `utilization` is
   * busy / allocated. Without `from` and `to`, only hours with usage records are listed; with both,
   * every hour of the range (up to 93 days) for each class with a fleet or records.
   */
  async utilization(filter: { gpuClass?: string; from?: string; to?: string }) {
    const rows = await this.dataSource.query<
      { gpu_class: string; hour_start: Date; gpu_ms_allocated: string; busy_ms: string; energy_mwh: string }[]
    >(
      `SELECT gpu_class, hour_start, gpu_ms_allocated, busy_ms, energy_mwh FROM ${S}.cluster_utilization_hourly
        WHERE ($1::text IS NULL OR gpu_class = $1) AND ($2::timestamptz IS NULL OR hour_start >= $2) AND ($3::timestamptz IS NULL OR hour_start < $3)
        ORDER BY gpu_class, hour_start`,
      [filter.gpuClass ?? null, filter.from ?? null, filter.to ?? null],
    );
    const usage = new Map(rows.map((r) => [`${r.gpu_class}|${r.hour_start.getTime()}`, r]));
    const fleetClasses = await this.dataSource.query<{ gpu_class: string }[]>(
      `SELECT DISTINCT gpu_class FROM ${S}.fleet_class_changes WHERE $1::text IS NULL OR gpu_class = $1`,
      [filter.gpuClass ?? null],
    );
    const hours = new Set(rows.map((r) => r.hour_start.getTime()));
    const classes = new Set(rows.map((r) => r.gpu_class));
    const filled = filter.from !== undefined && filter.to !== undefined;
    if (filled) {
      const fromMs = hourStartOf(Date.parse(filter.from!));
      const toMs = Math.min(Date.parse(filter.to!), fromMs + 93 * 24 * HOUR_MS);
      for (let hour = fromMs; hour < toMs; hour += HOUR_MS) hours.add(hour);
      for (const { gpu_class } of fleetClasses) classes.add(gpu_class);
    }
    if (hours.size === 0) return [];
    const firstMs = Math.min(...hours);
    const endMs = Math.max(...hours) + HOUR_MS;
    const fleet = await this.fleetGpuMs([...classes], firstMs, endMs);
    const result = [];
    for (const gpuClass of [...classes].sort()) {
      for (const hour of [...hours].sort((a, b) => a - b)) {
        const r = usage.get(`${gpuClass}|${hour}`);
        if (!r && !filled) continue;
        const allocated = r ? Number(r.gpu_ms_allocated) : 0;
        const busy = r ? Number(r.busy_ms) : 0;
        const healthy = fleet.get(gpuClass)?.healthy.get(hour) ?? 0;
        const inService = fleet.get(gpuClass)?.inService.get(hour) ?? 0;
        result.push({
          gpuClass,
          hourStart: new Date(hour).toISOString(),
          gpuSecondsAllocated: fromMilliUnits(BigInt(r?.gpu_ms_allocated ?? 0)),
          gpuSecondsBusy: fromMilliUnits(BigInt(r?.busy_ms ?? 0)),
          energyWh: fromMilliUnits(BigInt(r?.energy_mwh ?? 0)),
          /** busy / allocated, 4 decimals; a ratio for display, not a billed quantity. */
          utilization: allocated > 0 ? Math.round((busy / allocated) * 10_000) / 10_000 : 0,
          /** GPU time of the class's healthy GPUs in the hour (inventory's effective health). */
          gpuSecondsHealthy: fromMilliUnits(healthy),
          /** GPU time of the class's commissioned, not decommissioned GPUs in the hour. */
          gpuSecondsInService: fromMilliUnits(inService),
          /** allocated / healthy, 4 decimals; null while no fleet is known for the class. */
          allocatedShareOfHealthy: allocatedShareOfHealthy(allocated, healthy),
        });
      }
    }
    return result;
  }

  /** Healthy and in-service GPU-ms per class and hour over `[fromMs, toMs)`, from the fleet's step changes. */
  private async fleetGpuMs(classes: string[], fromMs: number, toMs: number) {
    const result = new Map<string, { healthy: Map<number, number>; inService: Map<number, number> }>();
    if (classes.length === 0) return result;
    const from = new Date(fromMs).toISOString();
    const starts = await this.dataSource.query<{ gpu_class: string; healthy: string; in_service: string }[]>(
      `SELECT gpu_class, sum(healthy_delta) AS healthy, sum(in_service_delta) AS in_service
         FROM ${S}.fleet_class_changes WHERE gpu_class = ANY($1::text[]) AND at < $2 GROUP BY gpu_class`,
      [classes, from],
    );
    const changes = await this.dataSource.query<
      { gpu_class: string; at: Date; healthy_delta: string; in_service_delta: string }[]
    >(
      `SELECT gpu_class, at, healthy_delta, in_service_delta FROM ${S}.fleet_class_changes
        WHERE gpu_class = ANY($1::text[]) AND at >= $2 AND at < $3 ORDER BY at`,
      [classes, from, new Date(toMs).toISOString()],
    );
    for (const gpuClass of classes) {
      const start = starts.find((s) => s.gpu_class === gpuClass);
      const mine = changes.filter((c) => c.gpu_class === gpuClass);
      result.set(gpuClass, {
        healthy: gpuMsPerHour(
          Number(start?.healthy ?? 0),
          mine.map((c) => ({ atMs: c.at.getTime(), delta: Number(c.healthy_delta) })),
          fromMs,
          toMs,
        ),
        inService: gpuMsPerHour(
          Number(start?.in_service ?? 0),
          mine.map((c) => ({ atMs: c.at.getTime(), delta: Number(c.in_service_delta) })),
          fromMs,
          toMs,
        ),
      });
    }
    return result;
  }
}
