import { DeadLetterHeaders, deadLetterTopic, Topics, topicName } from '@fleetledger/contracts';
import { metering } from '@fleetledger/contracts';
import { compareProjection, EventStore, rebuildProjection } from '@fleetledger/eventstore';
import { Messaging } from '@fleetledger/platform';
import {
  api,
  startTestService,
  testKafka,
  TestService,
  TopicCollector,
  topicOwnersProducer,
  waitUntil,
} from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { UsageQueries } from '../src/queries/usage.queries';
import { MeteringModule } from '../src/metering.module';
import { meteringService } from '../src/metering.options';
import { usageProjection } from '../src/projections/usage.projection';
import { applyWindowDeltas, windowCacheKey, windowIds } from '../src/ingestion/window-store';
import { sampleIdDigest } from '../src/domain/quantities';
import { at, placed, released, sample } from './fixtures';

const LEASE_A_GPUS = ['gA1', 'gA2', 'gA3', 'gA4'];

describe('metering against real Kafka and PostgreSQL', () => {
  let service: TestService;
  let producer: Producer;
  let events: TopicCollector;
  let dlq: TopicCollector;
  let queries: UsageQueries;
  let telemetryTopic: string;

  const usageEvents = () =>
    events.messages.map((m) => m.value as { type: string; payload: Record<string, unknown> });
  const sendSamples = (samples: unknown[]) =>
    producer.send({
      topic: telemetryTopic,
      acks: -1,
      messages: samples.map((s) => ({ key: 'node-1', value: typeof s === 'string' ? s : JSON.stringify(s) })),
    });

  const sendAllocationEvents = (...events: { streamId: string }[]) =>
    producer.send({
      topic: topicName(Topics.allocationEvents, service.topicPrefix),
      acks: -1,
      messages: events.map((e) => ({ key: e.streamId, value: JSON.stringify(e) })),
    });
  /** Publishes a placement and waits until metering has applied it. */
  const place = async (placement: ReturnType<typeof placed>) => {
    await sendAllocationEvents(placement);
    const placementId = (placement.payload as { placementId: string }).placementId;
    await waitUntil(
      async () =>
        (
          await service.app
            .get(DataSource)
            .query(`SELECT 1 FROM metering.placements WHERE placement_id = $1`, [placementId])
        ).length === 1,
      30_000,
      `placement ${placementId} applied`,
    );
  };

  beforeAll(async () => {
    service = await startTestService(MeteringModule, meteringService, {
      env: { METERING_CLOSE_INTERVAL_MS: '0', METERING_LATENESS_MS: String(5 * 60_000) },
    });
    queries = service.app.get(UsageQueries);
    telemetryTopic = topicName(Topics.meteringTelemetry, service.topicPrefix);
    producer = topicOwnersProducer(service.topicPrefix);
    await producer.connect();
    events = await new TopicCollector(testKafka()).start([
      topicName(Topics.meteringEvents, service.topicPrefix),
    ]);
    dlq = await new TopicCollector(testKafka()).start([deadLetterTopic(telemetryTopic)]);
  });

  afterAll(async () => {
    await producer?.disconnect();
    await events?.stop();
    await dlq?.stop();
    await service?.stop();
  });

  it('ingests samples and placements racing each other, counting duplicates once and dead-lettering malformed records', async () => {
    const allocationTopic = topicName(Topics.allocationEvents, service.topicPrefix);
    const placements = [
      placed('pA', 'lease-a', 'tenant-a', 'H100', LEASE_A_GPUS, at('00:00:00')),
      released('pA', 'lease-a', 'tenant-a', 'H100', LEASE_A_GPUS, at('01:30:00')),
      placed('pB', 'lease-b', 'tenant-b', 'H200', ['gB1'], at('00:00:00')),
    ];
    await Promise.all([
      // Out of order (00:20 before 00:10), a duplicate, and two malformed records.
      sendSamples([
        sample('s-0020', 'gA1', at('00:20:00')),
        sample('s-0010', 'gA1', at('00:10:00')),
        sample('s-0010', 'gA1', at('00:10:00')),
        'not json at all',
        {
          sampleId: 'bad',
          gpuId: 'gA1',
          nodeId: 'node-1',
          sampledAt: at('00:30:00'),
          utilization: 3,
          powerW: 700,
        },
        sample('s-idle', 'gX9', at('00:10:00')),
      ]),
      producer.send({
        topic: allocationTopic,
        acks: -1,
        messages: placements.map((e) => ({ key: e.streamId, value: JSON.stringify(e) })),
      }),
    ]);

    // The same sample again over HTTP: a duplicate, not a new count.
    const http = await api(service.url)
      .post('/metering/samples')
      .send({ samples: [sample('s-0010', 'gA1', at('00:10:00')), { sampleId: 'x' }] })
      .expect(200);
    expect(http.body.rejected).toEqual([expect.objectContaining({ index: 1, reason: 'invalid-sample' })]);

    await waitUntil(
      async () => {
        const pending = await queries.pending();
        return pending.accepted === 3 && pending.unattributed === 1 && pending.awaitingClose === 2;
      },
      30_000,
      'samples stored and attributed once placements are known',
    );
    const db = service.app.get(DataSource);
    const [ended] = await db.query(`SELECT end_at FROM metering.placements WHERE placement_id = 'pA'`);
    expect(ended.end_at?.toISOString()).toBe(at('01:30:00'));

    const letters = await dlq.waitFor((m) => m.length >= 2);
    expect(letters.map((l) => l.headers[DeadLetterHeaders.reason]).sort()).toEqual([
      'invalid-sample',
      'unparseable-json',
    ]);
  });

  it('does not close a window before its lateness has passed', async () => {
    const result = await api(service.url)
      .post('/metering/windows/close')
      .send({ asOf: at('01:04:59') })
      .expect(200);
    expect(result.body).toMatchObject({ recorded: 0, corrected: 0 });
  });

  it('records each lease x class x hour: release mid-hour splits, a GPU without samples still meters allocated time', async () => {
    const result = await api(service.url)
      .post('/metering/windows/close')
      .send({ asOf: at('02:05:00') })
      .expect(200);
    expect(result.body).toMatchObject({ recorded: 4, corrected: 0 });
    await service.app.get(Messaging).flushOutbox();
    // The topic also carries metering's progress markers (UsageWindowsClosed, issue #22): count the records.
    await events.waitFor(
      (m) => m.filter((x) => (x.value as { type: string }).type === metering.UsageRecorded.type).length >= 4,
    );
    const recorded = usageEvents()
      .filter((e) => e.type === metering.UsageRecorded.type)
      .map((e) => e.payload as metering.UsageRecordedPayload)
      .map(
        (p) =>
          `${p.leaseId} ${p.hourStart.slice(11, 13)} alloc=${p.gpuSecondsAllocated} busy=${p.gpuSecondsBusy} wh=${p.energyWh} n=${p.sampleCount}`,
      )
      .sort();
    expect(recorded).toEqual([
      'lease-a 00 alloc=14400.000 busy=10.000 wh=3.889 n=2',
      'lease-a 01 alloc=7200.000 busy=0.000 wh=0.000 n=0',
      'lease-b 00 alloc=3600.000 busy=0.000 wh=0.000 n=0',
      'lease-b 01 alloc=3600.000 busy=0.000 wh=0.000 n=0',
    ]);
    // The digest Postgres sums at ingestion is the contract's: sampleIdDigest of the ids counted.
    const leaseA00 = usageEvents()
      .map((e) => e.payload as metering.UsageRecordedPayload)
      .find((p) => p.leaseId === 'lease-a' && p.hourStart === at('00:00:00'))!;
    expect(leaseA00.sources.sampleDigest).toBe(sampleIdDigest(['s-0010', 's-0020']));
    const usage = await api(service.url).get('/metering/usage').query({ tenantId: 'tenant-a' }).expect(200);
    expect(usage.body.totals).toEqual({
      gpuSecondsAllocated: '21600.000',
      gpuSecondsBusy: '10.000',
      energyWh: '3.889',
      sampleCount: 2,
    });
  });

  it('turns a late sample after close into a correction, and accounts for every accepted sample', async () => {
    await sendSamples([sample('s-late', 'gA2', at('00:50:00'), 1, 360)]);
    await waitUntil(
      async () => (await queries.pending()).awaitingCorrection === 1,
      30_000,
      'late sample stored',
    );
    const pending = await queries.pending();
    expect(pending.accepted).toBe(
      pending.rated + pending.awaitingClose + pending.awaitingCorrection + pending.unattributed,
    );

    const result = await api(service.url)
      .post('/metering/windows/close')
      .send({ asOf: at('02:06:00') })
      .expect(200);
    expect(result.body).toMatchObject({ recorded: 0, corrected: 1 });
    await service.app.get(Messaging).flushOutbox();
    const messages = await events.waitFor((m) =>
      m.some((x) => (x.value as { type: string }).type === metering.UsageCorrected.type),
    );
    const correction = messages
      .map((m) => m.value as { type: string; payload: metering.UsageCorrectedPayload })
      .find((e) => e.type === metering.UsageCorrected.type)!;
    expect(correction.payload).toMatchObject({
      usageRecordId: metering.usageRecordId('lease-a', 'H100', at('00:00:00')),
      correctionSeq: 1,
      reason: 'late-samples',
      delta: { gpuSecondsAllocated: '0.000', gpuSecondsBusy: '10.000', energyWh: '1.000', sampleCount: 1 },
      totalsAfter: {
        gpuSecondsAllocated: '14400.000',
        gpuSecondsBusy: '20.000',
        energyWh: '4.889',
        sampleCount: 3,
      },
      sources: { sampleDigest: sampleIdDigest(['s-late']) },
    });
    expect(await queries.pending()).toMatchObject({
      accepted: 4,
      rated: 3,
      awaitingCorrection: 0,
      unattributed: 1,
    });

    const again = await api(service.url)
      .post('/metering/windows/close')
      .send({ asOf: at('02:07:00') })
      .expect(200);
    expect(again.body).toMatchObject({ recorded: 0, corrected: 0 });
  });

  it('a release learned after close corrects allocated time, and moves samples after the release out of the lease', async () => {
    // gB1 reports at 01:45 while metering still believes lease-b holds it: counted, awaiting correction.
    await sendSamples([sample('s-b-0145', 'gB1', at('01:45:00'))]);
    await waitUntil(
      async () => (await queries.pending()).awaitingCorrection === 1,
      30_000,
      'sample on lease-b stored',
    );
    // Then allocation's release at 01:30 arrives, late.
    const release = released('pB', 'lease-b', 'tenant-b', 'H200', ['gB1'], at('01:30:00'));
    await sendAllocationEvents(release);
    await waitUntil(
      async () => (await queries.pending()).unattributed === 2,
      30_000,
      'sample moved out of lease-b',
    );

    const result = await api(service.url)
      .post('/metering/windows/close')
      .send({ asOf: at('02:08:00') })
      .expect(200);
    expect(result.body).toMatchObject({ recorded: 0, corrected: 1 });
    await service.app.get(Messaging).flushOutbox();
    const messages = await events.waitFor(
      (m) => m.filter((x) => (x.value as { type: string }).type === metering.UsageCorrected.type).length >= 2,
    );
    const correction = messages
      .map((m) => m.value as { type: string; payload: metering.UsageCorrectedPayload })
      .find((e) => e.type === metering.UsageCorrected.type && e.payload.leaseId === 'lease-b')!;
    expect(correction.payload).toMatchObject({
      usageRecordId: metering.usageRecordId('lease-b', 'H200', at('01:00:00')),
      reason: 'late-placement-event',
      delta: { gpuSecondsAllocated: '-1800.000', gpuSecondsBusy: '0.000', energyWh: '0.000', sampleCount: 0 },
      totalsAfter: { gpuSecondsAllocated: '1800.000', sampleCount: 0 },
    });
    const pending = await queries.pending();
    expect(pending).toMatchObject({
      accepted: 5,
      rated: 3,
      awaitingClose: 0,
      awaitingCorrection: 0,
      unattributed: 2,
    });
  });

  it('serves cluster utilization by class and hour', async () => {
    const utilization = await api(service.url)
      .get('/metering/utilization')
      .query({ gpuClass: 'H100' })
      .expect(200);
    expect(
      utilization.body.map((u: { hourStart: string; utilization: number }) => [u.hourStart, u.utilization]),
    ).toEqual([
      [at('00:00:00'), 0.0014],
      [at('01:00:00'), 0],
    ]);
  });

  it.each([1, 2, 5000])(
    'rebuilds the usage projection from the log, %i events per batch, to exactly the live rows',
    async (batchSize) => {
      // Scratch schemas for the rebuilds: only the administrator may create schemas.
      const db = await service.db.adminDataSource();
      const rebuilt = await rebuildProjection(db, service.app.get(EventStore), usageProjection, {
        targetSchema: `metering_rebuild_usage_${batchSize}`,
        batchSize,
      });
      const comparisons = await compareProjection(db, usageProjection, 'metering', rebuilt.targetSchema);
      expect(comparisons.map((c) => [c.table, c.equal, c.liveRows])).toEqual([
        ['usage_by_record', true, 4],
        ['cluster_utilization_hourly', true, 4],
      ]);
    },
  );
  it('concurrent batches opening the same new window count every sample (no window id leaks before commit)', async () => {
    const gpus = Array.from({ length: 8 }, (_, i) => `gC${i}`);
    const placement = placed('pC', 'lease-c', 'tenant-c', 'GB200', gpus, at('05:00:00'));
    await place(placement);
    const db = service.app.get(DataSource);
    const before = await queries.pending();
    const batches = Array.from({ length: 8 }, (_, b) =>
      gpus.map((gpuId) =>
        sample(`c-${b}-${gpuId}`, gpuId, new Date(Date.parse(at('05:10:00')) + b * 10_000).toISOString()),
      ),
    );
    await Promise.all(
      batches.map((batch) => api(service.url).post('/metering/samples').send({ samples: batch }).expect(200)),
    );
    const [window] = await db.query(
      `SELECT sample_count::int AS n FROM metering.usage_windows WHERE lease_id = 'lease-c'`,
    );
    expect(window.n).toBe(64);
    const after = await queries.pending();
    expect(after.accepted - before.accepted).toBe(64);
    expect(after.accepted).toBe(
      after.rated + after.awaitingClose + after.awaitingCorrection + after.unattributed,
    );
  });
  it('a window created by an uncommitted transaction cannot silently swallow counts from another', async () => {
    const db = service.app.get(DataSource);
    const creator = db.createQueryRunner();
    const other = db.createQueryRunner();
    await creator.startTransaction();
    await other.startTransaction();
    try {
      const cache = new Map<string, number>();
      const discovered = new Map<string, number>();
      const key = {
        leaseId: 'lease-d',
        tenantId: 'tenant-d',
        gpuClass: 'H100' as const,
        hourStartMs: Date.parse(at('07:00:00')),
      };
      const ids = await windowIds(creator, [key], cache, discovered);
      const windowId = ids.get(windowCacheKey(key))!;
      expect(cache.size).toBe(0); // only the caller publishes ids, after its commit
      const delta = new Map([[windowId, { busyMs: 1, energyMj: 1, sampleCount: 1, digest: 1n }]]);
      await expect(applyWindowDeltas(other, delta)).rejects.toThrow(/matched 0 of 1 windows/);
    } finally {
      await other.rollbackTransaction();
      await creator.rollbackTransaction();
      await other.release();
      await creator.release();
    }
  });

  it('takes node reports (several samples per record), and dead-letters a report with an invalid item whole while counting its valid ones once', async () => {
    const before = await queries.pending();
    await sendSamples([
      JSON.stringify([sample('n9-a', 'gN1', at('09:00:00')), sample('n9-b', 'gN2', at('09:00:00'))]),
      JSON.stringify([
        sample('n9-c', 'gN1', at('09:00:10')),
        { sampleId: 'broken', gpuId: 'gN2' },
        sample('n9-a', 'gN1', at('09:00:00')),
      ]),
    ]);
    const letters = await dlq.waitFor((m) => m.length >= 3);
    expect(letters[2].headers[DeadLetterHeaders.reason]).toBe('invalid-sample');
    expect(letters[2].headers[DeadLetterHeaders.detail]).toMatch(/^item 1: /);
    await waitUntil(
      async () => (await queries.pending()).accepted - before.accepted === 3,
      30_000,
      'valid samples of both reports stored',
    );
    const after = await queries.pending();
    expect(after.accepted - before.accepted).toBe(3);
    expect(after.unattributed - before.unattributed).toBe(3);
  });

  it('samples that arrive before their placement is known are attributed to it when it arrives; an idle GPU stays unattributed', async () => {
    const before = await queries.pending();
    const early = await api(service.url)
      .post('/metering/samples')
      .send({
        samples: [
          sample('p5-1', 'gP1', at('05:10:00')),
          sample('p5-2', 'gP2', at('05:10:00')),
          sample('p5-3', 'gP2', at('05:10:10')),
          sample('p5-idle', 'gP9', at('05:10:00')),
        ],
      })
      .expect(200);
    expect(early.body).toMatchObject({ accepted: 4, unattributed: 4 });

    const placement = placed('pP', 'lease-p', 'tenant-p', 'H100', ['gP1', 'gP2'], at('05:00:00'));
    await sendAllocationEvents(placement);
    await waitUntil(
      async () => (await queries.pending()).unattributed - before.unattributed === 1,
      30_000,
      'samples re-attributed to the placement',
    );
    const after = await queries.pending();
    expect(after.awaitingClose - before.awaitingClose).toBe(3);
    const [window] = await service.app
      .get(DataSource)
      .query(
        `SELECT sample_count, busy_ms FROM metering.usage_windows WHERE lease_id = 'lease-p' AND hour_start = $1`,
        [at('05:00:00')],
      );
    // Three samples at utilization 0.5 over 10 s each: 15 busy seconds.
    expect({ count: Number(window.sample_count), busyMs: Number(window.busy_ms) }).toEqual({
      count: 3,
      busyMs: 15_000,
    });
  });

  it('stores ids with tabs, newlines, backslashes or a literal \\N exactly as sent, deduplicates them, and digests them as the contract says', async () => {
    const gpus = ['gS\t1', 'gS\n2', 'gS\\3'];
    const placement = placed('pS', 'lease-s', 'tenant-s', 'H200', gpus, at('06:00:00'));
    await place(placement);
    const db = service.app.get(DataSource);
    const samples = [
      sample('s\t0610\r', gpus[0], at('06:10:00')),
      sample('s\n0610', gpus[1], at('06:10:00')),
      sample('\\N', gpus[2], at('06:10:00')),
    ];
    const first = await api(service.url).post('/metering/samples').send({ samples }).expect(200);
    expect(first.body).toMatchObject({ accepted: 3, duplicates: 0, unattributed: 0 });
    const again = await api(service.url).post('/metering/samples').send({ samples }).expect(200);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 3 });

    const stored = await db.query<{ sample_id: string; gpu_id: string }[]>(
      `SELECT s.sample_id, s.gpu_id FROM metering.samples s JOIN metering.usage_windows w ON w.window_id = s.window_id
        WHERE w.lease_id = 'lease-s' ORDER BY s.gpu_id`,
    );
    expect(stored).toEqual(
      samples
        .map((x) => ({ sample_id: x.sampleId, gpu_id: x.gpuId }))
        .sort((a, b) => (a.gpu_id < b.gpu_id ? -1 : 1)),
    );
    const [window] = await db.query<{ digest: string; sample_count: number }[]>(
      `SELECT digest::text AS digest, sample_count FROM metering.usage_windows WHERE lease_id = 'lease-s'`,
    );
    expect(BigInt(window.digest).toString(16).padStart(16, '0')).toBe(
      sampleIdDigest(samples.map((x) => x.sampleId)),
    );
    expect(Number(window.sample_count)).toBe(3);
  });
});
