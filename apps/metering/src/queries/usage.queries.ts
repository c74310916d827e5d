import { Injectable } from '@nestjs/common';
import { fromMilliUnits } from '@fleetledger/contracts/metering';
import { DataSource } from 'typeorm';

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
      SELECT (SELECT count(*) FROM metering.samples)
               + (SELECT coalesce(sum(samples), 0) FROM metering.sample_archive) AS accepted,
             (SELECT count(*) FROM metering.samples WHERE window_id IS NULL)
               + (SELECT coalesce(sum(unattributed), 0) FROM metering.sample_archive) AS unattributed,
             (SELECT coalesce(sum(sample_count), 0) FROM metering.usage_windows WHERE status = 'open') AS awaiting_close,
             (SELECT coalesce(sum(sample_count - (published->>'sampleCount')::bigint), 0) FROM metering.usage_windows WHERE dirty) AS awaiting_correction,
             (SELECT coalesce(sum((published->>'sampleCount')::bigint), 0) FROM metering.usage_windows WHERE status = 'closed') AS rated`);
    return {
      accepted: Number(row.accepted),
      rated: Number(row.rated),
      awaitingClose: Number(row.awaiting_close),
      awaitingCorrection: Number(row.awaiting_correction),
      unattributed: Number(row.unattributed),
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
         FROM metering.usage_by_record ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
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

  /** Per class and hour: share of allocated GPU time that was busy (the operator's "40% -> 85%"). */
  async utilization(filter: { gpuClass?: string; from?: string; to?: string }) {
    const rows = await this.dataSource.query<
      { gpu_class: string; hour_start: Date; gpu_ms_allocated: string; busy_ms: string; energy_mwh: string }[]
    >(
      `SELECT gpu_class, hour_start, gpu_ms_allocated, busy_ms, energy_mwh FROM metering.cluster_utilization_hourly
        WHERE ($1::text IS NULL OR gpu_class = $1) AND ($2::timestamptz IS NULL OR hour_start >= $2) AND ($3::timestamptz IS NULL OR hour_start < $3)
        ORDER BY gpu_class, hour_start`,
      [filter.gpuClass ?? null, filter.from ?? null, filter.to ?? null],
    );
    return rows.map((r) => {
      const allocated = Number(r.gpu_ms_allocated);
      return {
        gpuClass: r.gpu_class,
        hourStart: r.hour_start.toISOString(),
        gpuSecondsAllocated: fromMilliUnits(BigInt(r.gpu_ms_allocated)),
        gpuSecondsBusy: fromMilliUnits(BigInt(r.busy_ms)),
        energyWh: fromMilliUnits(BigInt(r.energy_mwh)),
        /** busy / allocated, 4 decimals; a ratio for display, not a billed quantity. */
        utilization: allocated > 0 ? Math.round((Number(r.busy_ms) / allocated) * 10_000) / 10_000 : 0,
      };
    });
  }
}
