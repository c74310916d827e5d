import { metering } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';

/**
 * Usage read models, from metering's own log (so a replay rebuilds them exactly):
 *   usage_by_record: one row per usage record with every correction applied (the billable totals);
 *   cluster_utilization_hourly: per GPU class and hour, allocated vs busy GPU time and energy.
 * Quantities are stored as integer milli-units (GPU-ms, busy ms, mWh).
 */
export const usageProjection: Projection = {
  name: 'usage',
  source: { kind: 'log' },
  tables: ['usage_by_record', 'cluster_utilization_hourly'],
  async apply(tx: Queryable, event, schema) {
    const s = `"${schema}"`;
    if (event.type === metering.UsageRecorded.type) {
      const p = event.payload as metering.UsageRecordedPayload;
      const allocated = metering.milliUnits(p.gpuSecondsAllocated);
      const busy = metering.milliUnits(p.gpuSecondsBusy);
      const energy = metering.milliUnits(p.energyWh);
      await tx.query(`INSERT INTO ${s}.usage_by_record VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)`, [
        p.usageRecordId,
        p.leaseId,
        p.tenantId,
        p.gpuClass,
        p.hourStart,
        allocated.toString(),
        busy.toString(),
        energy.toString(),
        p.sampleCount,
      ]);
      await addUtilization(tx, s, p.gpuClass, p.hourStart, allocated, busy, energy);
    } else if (event.type === metering.UsageCorrected.type) {
      const p = event.payload as metering.UsageCorrectedPayload;
      const allocated = metering.milliUnits(p.delta.gpuSecondsAllocated);
      const busy = metering.milliUnits(p.delta.gpuSecondsBusy);
      const energy = metering.milliUnits(p.delta.energyWh);
      await tx.query(
        `UPDATE ${s}.usage_by_record SET gpu_ms_allocated = gpu_ms_allocated + $2, busy_ms = busy_ms + $3,
            energy_mwh = energy_mwh + $4, sample_count = sample_count + $5, corrections = $6
          WHERE usage_record_id = $1`,
        [
          p.usageRecordId,
          allocated.toString(),
          busy.toString(),
          energy.toString(),
          p.delta.sampleCount,
          p.correctionSeq,
        ],
      );
      await addUtilization(tx, s, p.gpuClass, p.hourStart, allocated, busy, energy);
    }
  },
};

async function addUtilization(
  tx: Queryable,
  s: string,
  gpuClass: string,
  hourStart: string,
  allocated: bigint,
  busy: bigint,
  energy: bigint,
) {
  await tx.query(
    `INSERT INTO ${s}.cluster_utilization_hourly VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (gpu_class, hour_start) DO UPDATE SET
       gpu_ms_allocated = cluster_utilization_hourly.gpu_ms_allocated + EXCLUDED.gpu_ms_allocated,
       busy_ms = cluster_utilization_hourly.busy_ms + EXCLUDED.busy_ms,
       energy_mwh = cluster_utilization_hourly.energy_mwh + EXCLUDED.energy_mwh`,
    [gpuClass, hourStart, allocated.toString(), busy.toString(), energy.toString()],
  );
}
