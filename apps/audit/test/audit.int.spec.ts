import { DataSource } from 'typeorm';
import { Topics, topicName, servicePrincipal } from '@fleetledger/contracts';
import {
  compareProjection,
  eventStoreMigrations,
  EventStore,
  InboxConsumer,
  rebuildProjection,
  runInTransaction,
} from '@fleetledger/eventstore';
import { Messaging, ServiceOptions, PRODUCER, KAFKA } from '@fleetledger/platform';
import {
  api,
  ExampleModule,
  exampleRegistry,
  exampleService,
  startTestService,
  TestService,
  waitUntil,
} from '@fleetledger/testing';
import { reconcileServices, replayServices } from '../src/replay';
import { verifyAll } from '../src/verify';

/**
 * The audit against a producer service (the worked example) and a subscriber schema that consumes its
 * topic through an inbox, all on real Kafka and PostgreSQL.
 */
describe('audit: verify, replay, reconcile', () => {
  let service: TestService;
  let db: DataSource;
  let subscriber: InboxConsumer;
  const subscriberOptions: ServiceOptions = {
    service: 'subscriber',
    schema: 'subscriber',
    migrations: eventStoreMigrations('subscriber', 1764000000000),
    registry: exampleRegistry,
    eventsTopic: 'subscriber.events.v1',
  };
  const services = () => [exampleService, subscriberOptions];

  beforeAll(async () => {
    service = await startTestService(ExampleModule, exampleService);
    // The administrator's connection: it adds a second service's schema (subscriber) and tampers with logs.
    db = await service.db.adminDataSource();
    for (const migration of subscriberOptions.migrations)
      await runInTransaction(db, (tx) => new migration().up(tx.queryRunner!));
    subscriber = new InboxConsumer(service.app.get(KAFKA), db, service.app.get(PRODUCER), {
      name: 'subscriber-accounts',
      groupId: `${service.topicPrefix}subscriber`,
      topics: [topicName(Topics.inventoryEvents, service.topicPrefix)],
      schema: 'subscriber',
      registry: exampleRegistry,
      handle: async () => undefined,
    });
    await subscriber.start();
    for (const id of ['a1', 'a2', 'a3']) {
      await api(service.url)
        .post('/accounts')
        .send({ accountId: id, owner: `lab-${id}` })
        .expect(201);
      await api(service.url)
        .post(`/accounts/${id}/deposits`)
        .send({ amountMinor: 1000, at: '2026-11-03T00:00:00Z' })
        .expect(201);
    }
    await service.app.get(Messaging).flushOutbox();
    await waitUntil(
      async () => (await db.query(`SELECT count(*)::int AS n FROM subscriber.inbox`))[0].n === 6,
    );
  });

  afterAll(async () => {
    await subscriber?.stop();
    await service?.stop();
  });

  it('verify passes on an intact history: chains whole, every published event consumed once', async () => {
    // The service's sealer links events behind the writers; until it has, they are pending (not broken).
    let report = await verifyAll(db, services());
    await waitUntil(async () => {
      report = await verifyAll(db, services());
      return report.chains.find((c) => c.service === 'example')?.verification.pending === 0;
    });
    expect(report.ok).toBe(true);
    expect(report.chains.find((c) => c.service === 'example')?.verification.eventsChecked).toBe(6);
    expect(report.deliveries).toEqual([
      expect.objectContaining({
        consumer: 'subscriber-accounts',
        published: 6,
        consumed: 6,
        missing: [],
        unknown: [],
      }),
    ]);
  });

  it('replay + reconcile match the live state exactly, and a drifted live row is listed', async () => {
    await replayServices(db, services());
    const clean = await reconcileServices(db, services());
    expect(clean.flatMap((r) => r.tables).every((t) => t.equal)).toBe(true);

    await db.query(`UPDATE example.accounts SET balance_minor = 999 WHERE account_id = 'a2'`);
    const drifted = await reconcileServices(db, services());
    expect(drifted[0].differences).toEqual(
      expect.arrayContaining([
        {
          table: 'accounts',
          side: 'only-live',
          row: { account_id: 'a2', owner: 'lab-a2', balance_minor: '999' },
        },
        {
          table: 'accounts',
          side: 'only-replayed',
          row: { account_id: 'a2', owner: 'lab-a2', balance_minor: '1000' },
        },
      ]),
    );
    await db.query(`UPDATE example.accounts SET balance_minor = 1000 WHERE account_id = 'a2'`);
  });

  it('replay is deterministic: two replays of the same log give identical tables', async () => {
    const store = new EventStore('example', exampleRegistry, {
      principal: () => servicePrincipal('test'),
    });
    const [projection] = exampleService.projections!;
    await rebuildProjection(db, store, projection, { targetSchema: 'example_replay_a', batchSize: 2 });
    await rebuildProjection(db, store, projection, { targetSchema: 'example_replay_b', batchSize: 5000 });
    const [comparison] = await compareProjection(db, projection, 'example_replay_a', 'example_replay_b');
    expect(comparison).toMatchObject({ liveRows: 3, rebuiltRows: 3, equal: true });
    const dump = async (schema: string) =>
      JSON.stringify(await db.query(`SELECT * FROM "${schema}".accounts ORDER BY account_id`));
    expect(await dump('example_replay_a')).toBe(await dump('example_replay_b'));
  });

  it('verify reports an event lost between producer and subscriber', async () => {
    const [{ event_id }] = await db.query(`SELECT event_id FROM subscriber.inbox ORDER BY seq LIMIT 1`);
    await db.query(`DELETE FROM subscriber.inbox WHERE event_id = $1`, [event_id]);
    const report = await verifyAll(db, services());
    expect(report.ok).toBe(false);
    expect(report.deliveries[0].missing).toEqual([event_id]);
  });

  it('verify fails after one stored event is altered, naming the first broken link', async () => {
    await runInTransaction(db, async (tx) => {
      await tx.query(`SET LOCAL fleetledger.allow_event_rewrite = 'on'`);
      await tx.query(
        `UPDATE example.events SET payload = jsonb_set(payload, '{amountMinor}', '100000') WHERE global_position = 4`,
      );
    });
    const report = await verifyAll(db, services());
    const chain = report.chains.find((c) => c.service === 'example')!;
    expect(chain.verification.ok).toBe(false);
    expect(chain.verification.firstBreak).toMatchObject({ kind: 'hash-mismatch', globalPosition: 4 });
  });
});
