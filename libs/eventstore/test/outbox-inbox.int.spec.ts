import { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { DeadLetterHeaders, deadLetterTopic, newEvent, servicePrincipal } from '@fleetledger/contracts';
import {
  EventStore,
  InboxConsumer,
  OutboxRelay,
  PoisonMessageError,
  runInTransaction,
} from '@fleetledger/eventstore';
import { TopicCollector, waitUntil } from '@fleetledger/testing';
import {
  AccountOpened,
  balancesProjection,
  DepositMade,
  ProducerConsumerWorld,
  producerConsumerWorld,
  registry,
  SCHEMA,
} from './fixtures';

const at = '2026-11-01T00:00:00.000Z';

/** A relay that dies after the broker acknowledged the batch but before the rows are marked sent. */
class CrashingRelay extends OutboxRelay {
  protected override async markPublished(): Promise<void> {
    throw new Error('simulated crash between publish and mark-sent');
  }
}

describe('outbox relay and inbox consumer on real Kafka and PostgreSQL', () => {
  let world: ProducerConsumerWorld;
  let producerSource: DataSource;
  let consumerSource: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  let topic: string;
  const store = new EventStore(SCHEMA, registry, {
    principal: () => servicePrincipal('test'),
  });
  const handled: string[] = [];
  let consumer: InboxConsumer;
  let collector: TopicCollector;

  beforeAll(async () => {
    world = await producerConsumerWorld();
    ({ producerSource, consumerSource, kafka, producer, topic } = world);
    collector = await new TopicCollector(kafka).start([topic, deadLetterTopic(topic)]);
    consumer = new InboxConsumer(kafka, consumerSource, producer, {
      name: 'ledger-balances',
      groupId: `${topic}-balances`,
      topics: [topic],
      schema: SCHEMA,
      registry,
      handle: async (event, tx) => {
        if (event.type === 'DepositMade' && (event.payload as { accountId: string }).accountId === 'nobody') {
          throw new PoisonMessageError('unknown-account', 'deposit to an account that was never opened');
        }
        await balancesProjection.apply(tx, event, SCHEMA);
        handled.push(event.eventId);
      },
    });
    await consumer.start();
  });

  afterAll(async () => {
    await consumer?.stop();
    await collector?.stop();
    await world?.teardown();
  });

  it('re-publishes after a crash between publish and mark-sent, and the inbox applies the event once', async () => {
    const [opened, deposit] = await runInTransaction(producerSource, (tx) =>
      store.append(
        tx,
        'account-1',
        0,
        [
          newEvent(AccountOpened, { accountId: '1', owner: 'lab' }, at),
          newEvent(DepositMade, { accountId: '1', amountMinor: 700 }, at),
        ],
        { correlationId: 'c-1', topic },
      ),
    );

    await expect(
      new CrashingRelay(producerSource, producer, { schema: SCHEMA }).publishBatch(),
    ).rejects.toThrow(/simulated crash/);
    const relay = new OutboxRelay(producerSource, producer, { schema: SCHEMA });
    expect(await relay.pendingCount()).toBe(2);
    expect(await relay.drain()).toBe(2);
    expect(await relay.pendingCount()).toBe(0);

    // Both copies of each event reached the topic...
    await collector.waitFor(
      (m) => m.filter((x) => x.topic === topic && x.headers['event-id'] === deposit.eventId).length === 2,
    );
    const onTopic = collector.messages.filter(
      (m) => m.topic === topic && m.headers['event-id'] === opened.eventId,
    );
    expect(onTopic).toHaveLength(2);
    expect(onTopic[0].message.key?.toString()).toBe('account-1');

    // ...but the consumer applied each once.
    await waitUntil(async () => {
      const rows = await consumerSource.query(`SELECT count(*)::int AS n FROM ledger.inbox`);
      return rows[0].n === 2;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(handled.filter((id) => id === deposit.eventId)).toHaveLength(1);
    const [balance] = await consumerSource.query(
      `SELECT balance_minor FROM ledger.balances WHERE account_id = '1'`,
    );
    expect(Number(balance.balance_minor)).toBe(700);
  });

  it('moves poison records to the DLQ with their reason and still processes the next good one', async () => {
    await producer.send({
      topic,
      messages: [
        { key: 'junk', value: 'this is not json' },
        { key: 'bad-envelope', value: JSON.stringify({ type: 'DepositMade' }) },
      ],
    });
    await runInTransaction(producerSource, (tx) =>
      store.append(
        tx,
        'account-2',
        0,
        [
          newEvent(DepositMade, { accountId: 'nobody', amountMinor: 1 }, at),
          newEvent(AccountOpened, { accountId: '2', owner: 'lab' }, at),
        ],
        { correlationId: 'c-2', topic },
      ),
    );
    await new OutboxRelay(producerSource, producer, { schema: SCHEMA }).drain();

    const dlq = deadLetterTopic(topic);
    await collector.waitFor((m) => m.filter((x) => x.topic === dlq).length === 3);
    const reasons = collector.messages
      .filter((m) => m.topic === dlq)
      .map((m) => m.headers[DeadLetterHeaders.reason]);
    expect(reasons.sort()).toEqual(['invalid-envelope', 'unknown-account', 'unparseable-json']);
    const junk = collector.messages.find(
      (m) => m.topic === dlq && m.headers[DeadLetterHeaders.reason] === 'unparseable-json',
    );
    expect(junk?.value).toBe('this is not json');
    expect(junk?.headers[DeadLetterHeaders.originalTopic]).toBe(topic);

    await waitUntil(async () => {
      const rows = await consumerSource.query(`SELECT 1 FROM ledger.balances WHERE account_id = '2'`);
      return rows.length === 1;
    });
    const [{ n }] = await consumerSource.query(`SELECT count(*)::int AS n FROM ledger.dead_letters`);
    expect(n).toBe(3);
  });

  it('splits an outbox batch larger than the broker accepts in one request, keeping order', async () => {
    const owner = 'x'.repeat(100_000); // 30 events of ~100 kB: 3 MB, three times the broker's 1 MiB limit
    const appended = await runInTransaction(producerSource, (tx) =>
      store.appendToStreams(
        tx,
        Array.from({ length: 30 }, (_, i) => ({
          streamId: `big-${i}`,
          expectedVersion: 0,
          events: [newEvent(AccountOpened, { accountId: `big-${i}`, owner }, at)],
        })),
        { correlationId: 'big', topic },
      ),
    );
    const relay = new OutboxRelay(producerSource, producer, { schema: SCHEMA, batchSize: 500 });
    expect(await relay.publishBatch()).toBe(30);
    expect(await relay.pendingCount()).toBe(0);
    const ids = new Set(appended.map((e) => e.eventId));
    const received = await collector.waitFor(
      (m) => m.filter((x) => ids.has(x.headers['event-id'])).length === 30,
    );
    const positions = received
      .filter((x) => ids.has(x.headers['event-id']))
      .map((x) => (x.value as { globalPosition: number }).globalPosition);
    expect(positions).toHaveLength(30);
  });
});
