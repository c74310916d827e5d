import { z } from 'zod';
import { Kafka, Producer } from 'kafkajs';
import { deadLetterTopic, defineEvent, EventRegistry } from '@fleetledger/contracts';
import { createEventStoreMigration, createIdempotentProducer, Queryable } from '@fleetledger/eventstore';
import { ensureTopics } from '@fleetledger/eventstore/kafka-admin';
import { TestDatabase, testKafka, uniqueTopicPrefix } from '@fleetledger/testing';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';

/** A tiny bank-account domain used only to exercise the event store. */
export const AccountOpened = defineEvent({
  type: 'AccountOpened',
  schema: z.object({ accountId: z.string(), owner: z.string() }),
});

export const DepositMade = defineEvent({
  type: 'DepositMade',
  schemaVersion: 2,
  // v1 carried a float `amount`; v2 carries integer minor units.
  schema: z.object({ accountId: z.string(), amountMinor: z.number().int() }),
  upcasters: {
    1: (payload) => {
      const v1 = payload as { accountId: string; amount: number };
      return { accountId: v1.accountId, amountMinor: Math.round(v1.amount * 100) };
    },
  },
});

export const DepositMadeV1 = defineEvent({
  type: 'DepositMade',
  schema: z.object({ accountId: z.string(), amount: z.number() }),
});

export const registry = new EventRegistry([AccountOpened, DepositMade]);

export const SCHEMA = 'ledger';

export class CreateBalances1700000000001 implements MigrationInterface {
  name = 'CreateBalances1700000000001';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE ledger.balances (account_id text PRIMARY KEY, owner text NOT NULL, balance_minor bigint NOT NULL, last_position bigint NOT NULL)`,
    );
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE ledger.balances');
  }
}

export const migrations = [createEventStoreMigration(SCHEMA, 1700000000000), CreateBalances1700000000001];

/** The balances projection: deterministic, writes only its own table. */
export const balancesProjection = {
  name: 'balances',
  source: { kind: 'log' as const },
  tables: ['balances'],
  async apply(
    tx: Queryable,
    event: { type: string; payload: unknown; globalPosition: number },
    schema: string,
  ) {
    if (event.type === 'AccountOpened') {
      const p = event.payload as { accountId: string; owner: string };
      await tx.query(
        `INSERT INTO "${schema}".balances (account_id, owner, balance_minor, last_position) VALUES ($1, $2, 0, $3)`,
        [p.accountId, p.owner, event.globalPosition],
      );
    } else if (event.type === 'DepositMade') {
      const p = event.payload as { accountId: string; amountMinor: number };
      await tx.query(
        `UPDATE "${schema}".balances SET balance_minor = balance_minor + $2, last_position = $3 WHERE account_id = $1`,
        [p.accountId, p.amountMinor, event.globalPosition],
      );
    }
  },
};

/**
 * A producing service and a consuming service, each with its own database, and a topic (plus its
 * DLQ) of their own on the real broker.
 */
export interface ProducerConsumerWorld {
  producerSource: DataSource;
  consumerSource: DataSource;
  kafka: Kafka;
  producer: Producer;
  topic: string;
  teardown(): Promise<void>;
}

export async function producerConsumerWorld(): Promise<ProducerConsumerWorld> {
  const [producerDb, consumerDb] = await Promise.all([TestDatabase.create(), TestDatabase.create()]);
  const producerSource = await producerDb.dataSource(migrations);
  const consumerSource = await consumerDb.dataSource(migrations);
  const kafka = testKafka();
  const topic = `${uniqueTopicPrefix()}ledger.events.v1`;
  await ensureTopics(kafka, [topic, deadLetterTopic(topic)]);
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  return {
    producerSource,
    consumerSource,
    kafka,
    producer,
    topic,
    async teardown() {
      await producer.disconnect();
      await producerSource.destroy();
      await consumerSource.destroy();
      await Promise.all([producerDb.drop(), consumerDb.drop()]);
    },
  };
}
