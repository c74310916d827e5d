import { metering, newEvent, servicePrincipal } from '@fleetledger/contracts';
import { compareProjection, EventStore, rebuildProjection, runInTransaction } from '@fleetledger/eventstore';
import { TestDatabase } from '@fleetledger/testing';
import { DataSource } from 'typeorm';
import { meteringService } from '../src/metering.options';
import { usageProjection } from '../src/projections/usage.projection';

const H0 = '2026-04-01T00:00:00.000Z';
const H1 = '2026-04-01T01:00:00.000Z';
/** The same instant as H1, spelled with an offset: one key of cluster_utilization_hourly. */
const H1_OFFSET = '2026-04-01T02:00:00+01:00';
const sources = { sampleDigest: '0000000000000000', placementEventIds: [] };
const totals = { gpuSecondsAllocated: '0.000', gpuSecondsBusy: '0.000', energyWh: '0.000', sampleCount: 0 };

type Quantities = [allocated: string, busy: string, energy: string, samples: number];

function recorded(id: string, gpuClass: metering.GpuClass, hourStart: string, q: Quantities) {
  const payload: metering.UsageRecordedPayload = {
    usageRecordId: id,
    leaseId: `lease-${id}`,
    tenantId: 'tenant-1',
    gpuClass,
    hourStart,
    closedAt: '2026-04-01T03:00:00.000Z',
    sources,
    gpuSecondsAllocated: q[0],
    gpuSecondsBusy: q[1],
    energyWh: q[2],
    sampleCount: q[3],
  };
  return newEvent(metering.UsageRecorded, payload, payload.closedAt);
}

function corrected(id: string, seq: number, gpuClass: metering.GpuClass, hourStart: string, q: Quantities) {
  const payload: metering.UsageCorrectedPayload = {
    usageCorrectionId: `${id}#${seq}`,
    usageRecordId: id,
    correctionSeq: seq,
    leaseId: `lease-${id}`,
    tenantId: 'tenant-1',
    gpuClass,
    hourStart,
    reason: 'late-samples',
    correctedAt: '2026-04-01T04:00:00.000Z',
    delta: { gpuSecondsAllocated: q[0], gpuSecondsBusy: q[1], energyWh: q[2], sampleCount: q[3] },
    totalsAfter: totals,
    sources,
  };
  return newEvent(metering.UsageCorrected, payload, payload.correctedAt);
}

/**
 * The usage projection's batch path against the log, event by event: several records in one
 * (class, hour), corrections of records recorded in the same batch and in earlier ones, one hour
 * spelled two ways, and a correction logged before its record (it changes no record, exactly as
 * applying it alone does; the hour still takes its delta).
 */
describe('usage projection: a batch leaves the tables exactly as one event at a time', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let store: EventStore;

  const log: [stream: string, event: ReturnType<typeof recorded> | ReturnType<typeof corrected>][] = [
    ['r1', recorded('r1', 'H100', H0, ['3600.000', '1800.000', '100.000', 360])],
    ['r2', recorded('r2', 'H100', H0, ['1800.000', '900.500', '50.250', 180])],
    ['r1', corrected('r1', 1, 'H100', H0, ['-600.000', '10.000', '1.001', 1])],
    ['r3', recorded('r3', 'H100', H1_OFFSET, ['3600.000', '0.000', '0.000', 0])],
    ['r4', recorded('r4', 'H100', H1, ['1200.000', '600.000', '30.000', 120])],
    ['r1', corrected('r1', 2, 'H100', H0, ['0.000', '-5.000', '0.000', -1])],
    ['r2', corrected('r2', 1, 'H100', H0, ['100.000', '0.500', '-0.250', 2])],
    ['late', corrected('late', 1, 'H200', H0, ['60.000', '0.000', '0.000', 0])],
    ['r3', corrected('r3', 1, 'H100', H1_OFFSET, ['0.000', '20.000', '2.000', 2])],
    ['late', recorded('late', 'H200', H0, ['600.000', '300.000', '10.000', 60])],
  ];

  beforeAll(async () => {
    db = await TestDatabase.create('fl_metering_usage_proj');
    dataSource = await db.dataSource(meteringService.migrations, 4);
    store = new EventStore(meteringService.schema, meteringService.registry, {
      principal: () => servicePrincipal('test'),
    });
    // The live tables: one event per transaction, in log order.
    const versions = new Map<string, number>();
    for (const [stream, event] of log) {
      await runInTransaction(dataSource, async (tx) => {
        const version = versions.get(stream) ?? 0;
        versions.set(stream, version + 1);
        const [envelope] = await store.appendToStreams(
          tx,
          [{ streamId: `usage-record-${stream}`, expectedVersion: version, events: [event] }],
          { correlationId: 'usage-projection-test' },
        );
        await usageProjection.apply(tx, envelope, meteringService.schema);
      });
    }
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('folds records, corrections and hours into the expected rows', async () => {
    const records = await dataSource.query(
      `SELECT usage_record_id AS id, gpu_ms_allocated::text AS allocated, busy_ms::text AS busy,
              energy_mwh::text AS energy, sample_count::int AS samples, corrections
         FROM metering.usage_by_record ORDER BY usage_record_id`,
    );
    expect(records).toEqual([
      { id: 'late', allocated: '600000', busy: '300000', energy: '10000', samples: 60, corrections: 0 },
      { id: 'r1', allocated: '3000000', busy: '1805000', energy: '101001', samples: 360, corrections: 2 },
      { id: 'r2', allocated: '1900000', busy: '901000', energy: '50000', samples: 182, corrections: 1 },
      { id: 'r3', allocated: '3600000', busy: '20000', energy: '2000', samples: 2, corrections: 1 },
      { id: 'r4', allocated: '1200000', busy: '600000', energy: '30000', samples: 120, corrections: 0 },
    ]);
    const hours = await dataSource.query(
      `SELECT gpu_class, to_char(hour_start AT TIME ZONE 'UTC', 'HH24:MI') AS hour,
              gpu_ms_allocated::text AS allocated, busy_ms::text AS busy, energy_mwh::text AS energy
         FROM metering.cluster_utilization_hourly ORDER BY gpu_class, hour_start`,
    );
    expect(hours).toEqual([
      { gpu_class: 'H100', hour: '00:00', allocated: '4900000', busy: '2706000', energy: '151001' },
      { gpu_class: 'H100', hour: '01:00', allocated: '4800000', busy: '620000', energy: '32000' },
      { gpu_class: 'H200', hour: '00:00', allocated: '660000', busy: '300000', energy: '10000' },
    ]);
  });

  it.each([1, 2, 3, 5000])('a rebuild %i events per batch equals the live tables', async (batchSize) => {
    const rebuilt = await rebuildProjection(dataSource, store, usageProjection, {
      targetSchema: `metering_rebuild_usage_${batchSize}`,
      batchSize,
    });
    expect(rebuilt.eventsApplied).toBe(log.length);
    const comparisons = await compareProjection(
      dataSource,
      usageProjection,
      'metering',
      rebuilt.targetSchema,
    );
    expect(comparisons.map((c) => [c.table, c.equal, c.liveRows])).toEqual([
      ['usage_by_record', true, 5],
      ['cluster_utilization_hourly', true, 3],
    ]);
  });

  it('a record logged twice in one batch fails it, as the second insert alone would', async () => {
    const twice = recorded('dup', 'H100', H0, ['1.000', '0.000', '0.000', 0]);
    await expect(
      runInTransaction(dataSource, async (tx) => {
        const appended = await store.appendToStreams(
          tx,
          [{ streamId: 'usage-record-dup', expectedVersion: 0, events: [twice, { ...twice }] }],
          { correlationId: 'usage-projection-test' },
        );
        await usageProjection.applyBatch!(tx, appended, meteringService.schema);
      }),
    ).rejects.toThrow('usage record dup recorded twice');
  });
});
