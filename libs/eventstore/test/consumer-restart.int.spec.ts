import { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { newEvent, servicePrincipal } from '@fleetledger/contracts';
import { EventStore, InboxConsumer, OutboxRelay, runInTransaction } from '@fleetledger/eventstore';
import { waitUntil } from '@fleetledger/testing';
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

describe('a consumer stopped mid-stream and restarted', () => {
  let world: ProducerConsumerWorld;
  let producerSource: DataSource;
  let consumerSource: DataSource;
  let kafka: Kafka;
  let producer: Producer;
  let topic: string;
  const store = new EventStore(SCHEMA, registry, {
    principal: () => servicePrincipal('test'),
  });
  const deposits = 400;

  beforeAll(async () => {
    world = await producerConsumerWorld();
    ({ producerSource, consumerSource, kafka, producer, topic } = world);
    await runInTransaction(producerSource, (tx) =>
      store.append(tx, 'account-r', 0, [newEvent(AccountOpened, { accountId: 'r', owner: 'lab' }, at)], {
        correlationId: 'c',
        topic,
      }),
    );
    for (let i = 0; i < deposits; i += 50) {
      await runInTransaction(producerSource, (tx) =>
        store.append(
          tx,
          'account-r',
          'any',
          Array.from({ length: 50 }, () => newEvent(DepositMade, { accountId: 'r', amountMinor: 1 }, at)),
          {
            correlationId: 'c',
            topic,
          },
        ),
      );
    }
    await new OutboxRelay(producerSource, producer, { schema: SCHEMA, batchSize: 25 }).drain();
  });

  afterAll(async () => {
    await world?.teardown();
  });

  it('loses nothing and applies nothing twice to its projection', async () => {
    let appliedByFirst = 0;
    let appliedBySecond = 0;
    const consumer = (onApplied: () => void) =>
      new InboxConsumer(kafka, consumerSource, producer, {
        name: 'balances',
        groupId: `${topic}-restart`,
        topics: [topic],
        schema: SCHEMA,
        registry,
        maxBytesPerPartition: 4096,
        handle: async (event, tx) => {
          await balancesProjection.apply(tx, event, SCHEMA);
          onApplied();
        },
      });

    const first = consumer(() => (appliedByFirst += 1));
    await first.start();
    await waitUntil(() => appliedByFirst >= 50, 60_000, 'the first consumer to get going');
    await first.stop(); // graceful: the in-flight batch commits (or rolls back) before the group is left
    const afterStop = appliedByFirst;
    expect(afterStop).toBeLessThan(deposits);
    // The group's committed offset is exactly what was applied (one stream: one partition), so a restart
    // resumes there instead of re-reading the topic from the beginning.
    const admin = kafka.admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: `${topic}-restart`, topics: [topic] });
    await admin.disconnect();
    expect(committed.partitions.reduce((sum, p) => sum + Math.max(Number(p.offset), 0), 0)).toBe(afterStop);

    const second = consumer(() => (appliedBySecond += 1));
    await second.start();
    try {
      await waitUntil(
        async () =>
          (await consumerSource.query(`SELECT count(*)::int AS n FROM ledger.inbox`))[0].n === deposits + 1,
        60_000,
        'every event in the inbox',
      );
    } finally {
      await second.stop();
    }
    expect(appliedByFirst).toBe(afterStop);
    expect(appliedByFirst + appliedBySecond).toBe(deposits + 1);
    const [row] = await consumerSource.query(
      `SELECT balance_minor FROM ledger.balances WHERE account_id = 'r'`,
    );
    expect(Number(row.balance_minor)).toBe(deposits);
  });
});
