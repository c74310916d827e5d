import { EventEnvelope, metering } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';

/**
 * Usage read models, from metering's own log (so a replay rebuilds them exactly):
 *   usage_by_record: one row per usage record with every correction applied (the billable totals);
 *   cluster_utilization_hourly: per GPU class and hour, allocated vs busy GPU time and energy.
 * Quantities are stored as integer milli-units (GPU-ms, busy ms, mWh).
 *
 * One code path for one event and for many (`applyUsageEvents`): the events are folded in memory in
 * order, then written with three statements at most: corrections of records that existed before the
 * batch (summed deltas, the last correction's seq), inserts of the records the batch created (with
 * their later corrections already added), and one upsert of the summed deltas per (class, hour).
 * The update runs before the inserts, so a correction of a record the batch has not recorded yet
 * changes nothing, exactly as applying the events one by one would.
 */
export const usageProjection: Projection = {
  name: 'usage',
  source: { kind: 'log' },
  tables: ['usage_by_record', 'cluster_utilization_hourly'],
  apply: (tx, event, schema) => applyUsageEvents(tx, [event], schema),
  applyBatch: (tx, events, schema) => applyUsageEvents(tx, events, schema),
};

interface Quantities {
  allocated: bigint;
  busy: bigint;
  energy: bigint;
}
interface RecordRow extends Quantities {
  usageRecordId: string;
  leaseId: string;
  tenantId: string;
  gpuClass: string;
  hourStart: string;
  sampleCount: number;
  corrections: number;
}
interface CorrectionSum extends Quantities {
  sampleCount: number;
  corrections: number;
}
interface HourSum extends Quantities {
  gpuClass: string;
  hourStart: string;
}

export async function applyUsageEvents(
  tx: Queryable,
  events: readonly EventEnvelope[],
  schema: string,
): Promise<void> {
  const newRecords = new Map<string, RecordRow>();
  const correctionsOfExisting = new Map<string, CorrectionSum>();
  const hours = new Map<string, HourSum>();

  const addToHour = (gpuClass: string, hourStart: string, q: Quantities) => {
    const key = `${gpuClass}|${hourStart}`;
    const hour = hours.get(key);
    if (!hour) hours.set(key, { gpuClass, hourStart, ...q });
    else addQuantities(hour, q);
  };

  for (const event of events) {
    if (!metering.isMeteringEvent(event)) continue;
    if (event.type === metering.UsageRecorded.type) {
      const p = event.payload;
      if (newRecords.has(p.usageRecordId)) throw new Error(`usage record ${p.usageRecordId} recorded twice`);
      const q = {
        allocated: metering.milliUnits(p.gpuSecondsAllocated),
        busy: metering.milliUnits(p.gpuSecondsBusy),
        energy: metering.milliUnits(p.energyWh),
      };
      newRecords.set(p.usageRecordId, {
        usageRecordId: p.usageRecordId,
        leaseId: p.leaseId,
        tenantId: p.tenantId,
        gpuClass: p.gpuClass,
        hourStart: p.hourStart,
        ...q,
        sampleCount: p.sampleCount,
        corrections: 0,
      });
      addToHour(p.gpuClass, p.hourStart, q);
    } else if (event.type === metering.UsageCorrected.type) {
      const p = event.payload;
      const q = {
        allocated: metering.milliUnits(p.delta.gpuSecondsAllocated),
        busy: metering.milliUnits(p.delta.gpuSecondsBusy),
        energy: metering.milliUnits(p.delta.energyWh),
      };
      const row = newRecords.get(p.usageRecordId) ?? correctionsOfExisting.get(p.usageRecordId);
      if (row) {
        addQuantities(row, q);
        row.sampleCount += p.delta.sampleCount;
        row.corrections = p.correctionSeq;
      } else {
        correctionsOfExisting.set(p.usageRecordId, {
          ...q,
          sampleCount: p.delta.sampleCount,
          corrections: p.correctionSeq,
        });
      }
      addToHour(p.gpuClass, p.hourStart, q);
    }
  }

  const s = `"${schema}"`;
  if (correctionsOfExisting.size > 0) {
    await tx.query(
      `UPDATE ${s}.usage_by_record u SET gpu_ms_allocated = u.gpu_ms_allocated + c.allocated,
              busy_ms = u.busy_ms + c.busy, energy_mwh = u.energy_mwh + c.energy,
              sample_count = u.sample_count + c.sample_count, corrections = c.corrections
         FROM json_to_recordset($1::json) AS c(id text, allocated bigint, busy bigint, energy bigint,
                                               sample_count bigint, corrections integer)
        WHERE u.usage_record_id = c.id`,
      [
        JSON.stringify(
          [...correctionsOfExisting].map(([id, c]) => ({
            id,
            ...quantitiesJson(c),
            sample_count: c.sampleCount,
            corrections: c.corrections,
          })),
        ),
      ],
    );
  }
  if (newRecords.size > 0) {
    await tx.query(
      `INSERT INTO ${s}.usage_by_record (usage_record_id, lease_id, tenant_id, gpu_class, hour_start,
              gpu_ms_allocated, busy_ms, energy_mwh, sample_count, corrections)
       SELECT id, lease_id, tenant_id, gpu_class, hour_start, allocated, busy, energy, sample_count, corrections
         FROM json_to_recordset($1::json) AS r(id text, lease_id text, tenant_id text, gpu_class text,
              hour_start timestamptz, allocated bigint, busy bigint, energy bigint, sample_count bigint,
              corrections integer)`,
      [
        JSON.stringify(
          [...newRecords.values()].map((r) => ({
            id: r.usageRecordId,
            lease_id: r.leaseId,
            tenant_id: r.tenantId,
            gpu_class: r.gpuClass,
            hour_start: r.hourStart,
            ...quantitiesJson(r),
            sample_count: r.sampleCount,
            corrections: r.corrections,
          })),
        ),
      ],
    );
  }
  if (hours.size === 0) return;
  // Grouped again by instant: two spellings of one hour are one key of the table.
  await tx.query(
    `INSERT INTO ${s}.cluster_utilization_hourly (gpu_class, hour_start, gpu_ms_allocated, busy_ms, energy_mwh)
     SELECT gpu_class, hour_start, sum(allocated)::bigint, sum(busy)::bigint, sum(energy)::bigint
       FROM json_to_recordset($1::json) AS h(gpu_class text, hour_start timestamptz, allocated bigint,
            busy bigint, energy bigint)
      GROUP BY gpu_class, hour_start
     ON CONFLICT (gpu_class, hour_start) DO UPDATE SET
       gpu_ms_allocated = cluster_utilization_hourly.gpu_ms_allocated + EXCLUDED.gpu_ms_allocated,
       busy_ms = cluster_utilization_hourly.busy_ms + EXCLUDED.busy_ms,
       energy_mwh = cluster_utilization_hourly.energy_mwh + EXCLUDED.energy_mwh`,
    [
      JSON.stringify(
        [...hours.values()].map((h) => ({
          gpu_class: h.gpuClass,
          hour_start: h.hourStart,
          ...quantitiesJson(h),
        })),
      ),
    ],
  );
}

function addQuantities(target: Quantities, q: Quantities): void {
  target.allocated += q.allocated;
  target.busy += q.busy;
  target.energy += q.energy;
}

/** Milli-unit bigints as JSON strings (exact; Postgres reads them into bigint columns). */
const quantitiesJson = (q: Quantities) => ({
  allocated: q.allocated.toString(),
  busy: q.busy.toString(),
  energy: q.energy.toString(),
});
