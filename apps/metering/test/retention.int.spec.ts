import { DeadLetterHeaders, deadLetterTopic, metering, Topics, topicName } from '@fleetledger/contracts';
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
import { AttributionCache } from '../src/ingestion/attribution-cache';
import { SampleIngestor } from '../src/ingestion/sample-ingestor';
import { MeteringModule } from '../src/metering.module';
import { meteringService } from '../src/metering.options';
import { UsageQueries } from '../src/queries/usage.queries';
import { placed, released, sample } from './fixtures';

/** Bounded memory and storage without giving up exactly-once: pruning, day partitions, archiving. */
describe('metering retention: pruned memory and archived days keep every sample counted once', () => {
  let service: TestService;
  let producer: Producer;
  let events: TopicCollector;
  let dlq: TopicCollector;
  let queries: UsageQueries;
  let db: DataSource;
  const day1 = (hhmm: string) => `2026-03-01T${hhmm}:00.000Z`;
  const day2 = (hhmm: string) => `2026-03-02T${hhmm}:00.000Z`;

  const post = async (samples: unknown[]) =>
    (await api(service.url).post('/metering/samples').send({ samples }).expect(200)).body as {
      accepted: number;
      duplicates: number;
      unattributed: number;
      rejected: { index: number; reason: string }[];
    };
  const close = async (asOf: string) =>
    (await api(service.url).post('/metering/windows/close').send({ asOf }).expect(200)).body as {
      recorded: number;
      corrected: number;
    };
  const balanced = async () => {
    const p = await queries.pending();
    return p.accepted === p.rated + p.awaitingClose + p.awaitingCorrection + p.unattributed;
  };

  beforeAll(async () => {
    service = await startTestService(MeteringModule, meteringService, {
      env: { METERING_CLOSE_INTERVAL_MS: '0', METERING_LATENESS_MS: String(5 * 60_000) },
    });
    queries = service.app.get(UsageQueries);
    db = service.app.get(DataSource);
    producer = topicOwnersProducer(service.topicPrefix);
    await producer.connect();
    events = await new TopicCollector(testKafka()).start([
      topicName(Topics.meteringEvents, service.topicPrefix),
    ]);
    dlq = await new TopicCollector(testKafka()).start([
      deadLetterTopic(topicName(Topics.meteringTelemetry, service.topicPrefix)),
    ]);
    const placements = [
      placed('pR', 'lease-r', 'tenant-r', 'H100', ['r1', 'r2'], day1('00:00')),
      released('pR', 'lease-r', 'tenant-r', 'H100', ['r1', 'r2'], day1('02:00')),
      placed('pS', 'lease-s', 'tenant-s', 'H100', ['r3'], day1('00:00')),
    ];
    await producer.send({
      topic: topicName(Topics.allocationEvents, service.topicPrefix),
      acks: -1,
      messages: placements.map((e) => ({ key: e.streamId, value: JSON.stringify(e) })),
    });
    await waitUntil(
      async () =>
        (await db.query(`SELECT 1 FROM metering.placements WHERE end_at IS NOT NULL OR placement_id = 'pS'`))
          .length === 2,
      30_000,
      'placements applied',
    );
  });

  afterAll(async () => {
    await producer?.disconnect();
    await events?.stop();
    await dlq?.stop();
    await service?.stop();
  });

  it('stores samples in day partitions keyed by (sample id, day)', async () => {
    expect(
      await post([sample('r1@0010', 'r1', day1('00:10')), sample('r3@0010', 'r3', day1('00:10'))]),
    ).toMatchObject({
      accepted: 2,
      unattributed: 0,
    });
    const partitions = await db.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'metering.samples'::regclass`,
    );
    expect(partitions.map((p: { name: string }) => p.name)).toEqual(['samples_20260301']);
    const [stored] = await db.query(`SELECT count(*)::int AS n FROM metering.samples_20260301`);
    expect(stored.n).toBe(2);
  });

  it('prunes ended placements and closed windows from memory once the watermark passes them', async () => {
    await post([sample('r3@0140', 'r3', day1('01:40'))]);
    expect(service.app.get(AttributionCache).size.placements).toBe(2);
    expect(await close(day1('03:05'))).toMatchObject({ recorded: 5 }); // lease-r 00, 01; lease-s 00, 01, 02
    // The next batch sees the watermark (03:00): pR ended at 02:00 and leaves memory, the closed hours too.
    expect(await post([sample('r3@0310', 'r3', day1('03:10'))])).toMatchObject({ accepted: 1 });
    expect(service.app.get(AttributionCache).size).toEqual({ placements: 1, gpus: 1 });
    expect(service.app.get(SampleIngestor).cachedWindowIds).toBe(1);
  });

  it('a late sample for a pruned placement is still attributed to it and becomes a correction', async () => {
    expect(await post([sample('r1@0050', 'r1', day1('00:50'), 1, 360)])).toMatchObject({
      accepted: 1,
      unattributed: 0,
    });
    expect(await close(day1('03:06'))).toMatchObject({ recorded: 0, corrected: 1 });
    await service.app.get(Messaging).flushOutbox();
    const messages = await events.waitFor((m) =>
      m.some((x) => (x.value as { type: string }).type === metering.UsageCorrected.type),
    );
    const correction = messages
      .map((m) => m.value as { type: string; payload: metering.UsageCorrectedPayload })
      .find((e) => e.type === metering.UsageCorrected.type)!;
    expect(correction.payload).toMatchObject({
      usageRecordId: metering.usageRecordId('lease-r', 'H100', day1('00:00')),
      reason: 'late-samples',
      delta: { gpuSecondsBusy: '10.000', energyWh: '1.000', sampleCount: 1 },
    });
  });

  it('duplicates of samples from before pruning are still counted once', async () => {
    const before = await queries.pending();
    expect(
      await post([
        sample('r1@0010', 'r1', day1('00:10')),
        sample('r1@0050', 'r1', day1('00:50'), 1, 360),
        sample('r3@0310', 'r3', day1('03:10')),
      ]),
    ).toMatchObject({ accepted: 0, duplicates: 3 });
    expect(await queries.pending()).toEqual(before);
    expect(await close(day1('03:07'))).toMatchObject({ recorded: 0, corrected: 0 });
  });

  it('archives a closed day: its partition is detached, its samples stay counted, and samples for it are refused', async () => {
    const refusedEarly = await api(service.url)
      .post('/metering/samples/archive')
      .send({ before: '2026-03-02' })
      .expect(409);
    expect(refusedEarly.body.error).toBe('archive-before-close');

    await close(day2('00:06'));
    expect(await post([sample('r3@d2-0010', 'r3', day2('00:10'))])).toMatchObject({ accepted: 1 });
    const before = await queries.pending();
    const archived = await api(service.url)
      .post('/metering/samples/archive')
      .send({ before: '2026-03-02' })
      .expect(200);
    expect(archived.body).toEqual({
      archivedBefore: '2026-03-02',
      archived: [{ day: '2026-03-01', table: 'samples_20260301', samples: 5, unattributed: 0 }],
    });
    const attached = await db.query(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'metering.samples'::regclass`,
    );
    expect(attached.map((p: { name: string }) => p.name)).toEqual(['samples_20260302']);
    expect(await queries.pending()).toEqual(before);
    expect(await balanced()).toBe(true);

    // Over HTTP: a retry of an archived sample, and a new one for the archived day, are refused, not counted.
    const http = await post([
      sample('r1@0010', 'r1', day1('00:10')),
      sample('r3@d2-0020', 'r3', day2('00:20')),
      sample('r3@2350', 'r3', day1('23:50')),
    ]);
    expect(http).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(http.rejected.map((r) => [r.index, r.reason])).toEqual([
      [0, 'beyond-retention'],
      [2, 'beyond-retention'],
    ]);
    // Over Kafka: dead-lettered with the reason.
    await producer.send({
      topic: topicName(Topics.meteringTelemetry, service.topicPrefix),
      acks: -1,
      messages: [{ key: 'node-1', value: JSON.stringify(sample('r3@0020', 'r3', day1('00:20'))) }],
    });
    const letters = await dlq.waitFor((m) => m.length >= 1);
    expect(letters.map((l) => l.headers[DeadLetterHeaders.reason])).toEqual(['beyond-retention']);
    const after = await queries.pending();
    expect(after.accepted).toBe(before.accepted + 1);
    expect(await balanced()).toBe(true);
  });
});
