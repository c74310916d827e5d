import { DataSource } from 'typeorm';
import { newEvent, servicePrincipal } from '@fleetledger/contracts';
import {
  EventStore,
  InboxConsumer,
  OutboxRelay,
  PoisonMessageError,
  runInTransaction,
} from '@fleetledger/eventstore';
import { waitUntil } from '@fleetledger/testing';
import {
  AccountOpened,
  DepositMade,
  ProducerConsumerWorld,
  producerConsumerWorld,
  registry,
  SCHEMA,
} from './fixtures';

const at = '2026-11-01T00:00:00.000Z';
const isPoison = (event: { type: string; payload: unknown }) =>
  event.type === 'DepositMade' && (event.payload as { accountId: string }).accountId === 'nobody';

/**
 * A consumer with `handleBatch` (billing rates usage this way): one inbox insert and one handler call per
 * Kafka batch; a poison event inside the batch rolls the batch back and it is applied again one by one, so the
 * poison goes to the DLQ alone and every good event takes effect exactly once.
 */
describe('inbox consumer with a batch handler, on real Kafka and PostgreSQL', () => {
  let world: ProducerConsumerWorld;
  let producerSource: DataSource;
  let consumerSource: DataSource;
  let consumer: InboxConsumer;
  const store = new EventStore(SCHEMA, registry, {
    principal: () => servicePrincipal('test'),
  });
  const calls = { batch: 0, single: 0 };

  const record = async (tx: { query: DataSource['query'] }, eventId: string, via: string) =>
    tx.query(`INSERT INTO ledger.seen (event_id, via) VALUES ($1, $2)`, [eventId, via]);

  beforeAll(async () => {
    world = await producerConsumerWorld();
    ({ producerSource, consumerSource } = world);
    await consumerSource.query(`CREATE TABLE ledger.seen (event_id uuid PRIMARY KEY, via text NOT NULL)`);
    // Everything is in the topic before the consumer starts, so its first fetch is one batch of all of it.
    await runInTransaction(producerSource, (tx) =>
      store.append(
        tx,
        'account-1',
        0,
        [
          newEvent(AccountOpened, { accountId: '1', owner: 'lab' }, at),
          newEvent(DepositMade, { accountId: '1', amountMinor: 5 }, at),
          newEvent(DepositMade, { accountId: 'nobody', amountMinor: 1 }, at),
          newEvent(DepositMade, { accountId: '1', amountMinor: 7 }, at),
        ],
        { correlationId: 'c-1', topic: world.topic },
      ),
    );
    await new OutboxRelay(producerSource, world.producer, { schema: SCHEMA }).drain();
    consumer = new InboxConsumer(world.kafka, consumerSource, world.producer, {
      name: 'ledger-batch',
      groupId: `${world.topic}-batch`,
      topics: [world.topic],
      schema: SCHEMA,
      registry,
      fromBeginning: true,
      // The batch handler writes every good event before it meets the poison: those writes must be rolled back.
      handleBatch: async (events, tx) => {
        calls.batch += 1;
        for (const event of events) {
          if (isPoison(event)) throw new PoisonMessageError('unknown-account', 'never opened');
          await record(tx, event.eventId, 'batch');
        }
      },
      handle: async (event, tx) => {
        calls.single += 1;
        if (isPoison(event)) throw new PoisonMessageError('unknown-account', 'never opened');
        await record(tx, event.eventId, 'single');
      },
    });
    await consumer.start();
  });

  afterAll(async () => {
    await consumer?.stop();
    await world?.teardown();
  });

  it('a poison event in a batch: the batch is applied again one by one, good events once, the poison dead-lettered', async () => {
    await waitUntil(
      async () => (await consumerSource.query(`SELECT 1 FROM ledger.dead_letters`)).length === 1,
      30_000,
      'the poison event in dead_letters',
    );
    const seen = await consumerSource.query(`SELECT event_id::text AS id, via FROM ledger.seen`);
    const good = await producerSource.query(
      `SELECT event_id::text AS id FROM ledger.events WHERE NOT (type = 'DepositMade' AND payload->>'accountId' = 'nobody')`,
    );
    // Each good event exactly once (the primary key would refuse a second), through the one-by-one path.
    expect(seen.map((r: { id: string }) => r.id).sort()).toEqual(
      good.map((r: { id: string }) => r.id).sort(),
    );
    expect(new Set(seen.map((r: { via: string }) => r.via))).toEqual(new Set(['single']));
    expect(calls.batch).toBeGreaterThanOrEqual(1);
    const [letter] = await consumerSource.query(`SELECT reason FROM ledger.dead_letters`);
    expect(letter.reason).toBe('unknown-account');
    // Every good event is in the inbox once (a redelivery changes nothing); the poison is in dead_letters only.
    const [{ n }] = await consumerSource.query(
      `SELECT count(*)::int AS n FROM ledger.inbox WHERE consumer = 'ledger-batch'`,
    );
    expect(n).toBe(good.length);
  });
});
