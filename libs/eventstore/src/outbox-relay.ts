import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { ident } from './sql';

export interface OutboxRelayOptions {
  schema: string;
  batchSize?: number;
  idleDelayMs?: number;
  onError?: (error: unknown) => void;
  onPublished?: (count: number) => void;
}

interface OutboxRow {
  id: string;
  topic: string;
  message_key: string;
  message: unknown;
  headers: Record<string, string>;
}

/**
 * Publishes the outbox to Kafka, in outbox order, and marks rows sent only after the broker
 * acknowledged them. A crash between the two re-publishes the rows on restart (at-least-once);
 * consumers' inboxes make that harmless. One relay per service publishes at a time: it holds a
 * transaction-scoped advisory lock while it works, so a second replica simply waits its turn.
 */
export class OutboxRelay {
  private running = false;
  private loop?: Promise<void>;
  private readonly s: string;
  private readonly lockKey: string;

  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: Producer,
    private readonly options: OutboxRelayOptions,
  ) {
    this.s = ident(options.schema);
    this.lockKey = `outbox:${options.schema}`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Publishes one batch; returns how many rows were published. */
  async publishBatch(): Promise<number> {
    const queryRunner = this.dataSource.createQueryRunner();
    await queryRunner.connect();
    try {
      await queryRunner.startTransaction();
      const [{ locked }] = await queryRunner.query(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`, [this.lockKey]);
      if (!locked) {
        await queryRunner.rollbackTransaction();
        return 0;
      }
      const rows: OutboxRow[] = await queryRunner.query(
        `SELECT id, topic, message_key, message, headers FROM ${this.s}.outbox
          WHERE published_at IS NULL ORDER BY id LIMIT $1`,
        [this.options.batchSize ?? 500],
      );
      if (rows.length === 0) {
        await queryRunner.rollbackTransaction();
        return 0;
      }
      await this.publish(rows);
      await this.markPublished(queryRunner, rows.map((r) => r.id));
      await queryRunner.commitTransaction();
      this.options.onPublished?.(rows.length);
      return rows.length;
    } catch (error) {
      if (queryRunner.isTransactionActive) await queryRunner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await queryRunner.release();
    }
  }

  /** Publishes until the outbox is empty. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.publishBatch();
      total += n;
      if (n === 0) return total;
    }
  }

  async pendingCount(): Promise<number> {
    const [row] = await this.dataSource.query(`SELECT count(*)::int AS n FROM ${this.s}.outbox WHERE published_at IS NULL`);
    return row.n;
  }

  protected async publish(rows: OutboxRow[]): Promise<void> {
    const byTopic = new Map<string, OutboxRow[]>();
    for (const row of rows) byTopic.set(row.topic, [...(byTopic.get(row.topic) ?? []), row]);
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, topicRows]) => ({
        topic,
        messages: topicRows.map((row) => ({
          key: row.message_key,
          value: JSON.stringify(row.message),
          headers: row.headers,
        })),
      })),
    });
  }

  protected async markPublished(queryRunner: { query: DataSource['query'] }, ids: string[]): Promise<void> {
    await queryRunner.query(`UPDATE ${this.s}.outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [ids]);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const published = await this.publishBatch();
        if (published === 0) await sleep(this.options.idleDelayMs ?? 50);
      } catch (error) {
        this.options.onError?.(error);
        await sleep(1000);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
