import { Message, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { EVENT_COLUMNS, headersFor, StoredEventRow, storedEnvelope } from './event-store';
import { ident } from './sql';

export interface OutboxRelayOptions {
  schema: string;
  batchSize?: number;
  /**
   * Upper bound on the message bytes of one produce request. Kafka refuses a record batch over the
   * broker's message.max.bytes (1 MiB by default), so a large outbox batch is sent in several awaited
   * requests, in order.
   */
  maxRequestBytes?: number;
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
      const [{ locked }] = await queryRunner.query(
        `SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`,
        [this.lockKey],
      );
      if (!locked) {
        await queryRunner.rollbackTransaction();
        return 0;
      }
      // A compact outbox row (issue #19) names the event by position; the message is the event row itself.
      // Rows written before carry their message.
      const rows: OutboxRow[] = (
        await queryRunner.query(
          `SELECT o.id, o.topic, o.message_key, o.message, o.headers, ${EVENT_COLUMNS.split(', ')
            .map((c) => `e.${c}`)
            .join(', ')}
             FROM ${this.s}.outbox o
             LEFT JOIN ${this.s}.events e ON o.message IS NULL AND e.global_position = o.global_position
            WHERE o.published_at IS NULL ORDER BY o.id LIMIT $1`,
          [this.options.batchSize ?? 500],
        )
      ).map((row: OutboxRow & StoredEventRow) => {
        if (row.message !== null) return row;
        const envelope = storedEnvelope(row);
        return { ...row, message: envelope, headers: headersFor(envelope) };
      });
      if (rows.length === 0) {
        await queryRunner.rollbackTransaction();
        return 0;
      }
      await this.publish(rows);
      await this.markPublished(
        queryRunner,
        rows.map((r) => r.id),
      );
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
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM ${this.s}.outbox WHERE published_at IS NULL`,
    );
    return row.n;
  }

  protected async publish(rows: OutboxRow[]): Promise<void> {
    const limit = this.options.maxRequestBytes ?? 512 * 1024;
    let chunk: { topic: string; message: Message }[] = [];
    let chunkBytes = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const byTopic = new Map<string, Message[]>();
      for (const { topic, message } of chunk) byTopic.set(topic, [...(byTopic.get(topic) ?? []), message]);
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      chunk = [];
      chunkBytes = 0;
    };
    for (const row of rows) {
      const value = JSON.stringify(row.message);
      const bytes = Buffer.byteLength(value) + row.message_key.length + 200;
      if (chunkBytes + bytes > limit) await flush();
      chunk.push({ topic: row.topic, message: { key: row.message_key, value, headers: row.headers } });
      chunkBytes += bytes;
    }
    await flush();
  }

  protected async markPublished(queryRunner: { query: DataSource['query'] }, ids: string[]): Promise<void> {
    await queryRunner.query(`UPDATE ${this.s}.outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [
      ids,
    ]);
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
