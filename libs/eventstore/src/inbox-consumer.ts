import { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { DataSource, EntityManager } from 'typeorm';
import { EventEnvelope, eventEnvelopeSchema, EventRegistry, formatZodError } from '@fleetledger/contracts';
import { DeadLetter, DeadLetterPublisher } from './dead-letter';
import { consumerTimingFromEnv } from './kafka';
import { PoisonMessageError } from './errors';
import { ident } from './sql';
import { runInTransaction } from './transaction';

export type EventHandler = (event: EventEnvelope, tx: EntityManager) => Promise<void>;
/** Handles the new, accepted events of one Kafka batch, in log order, inside the batch's transaction. */
export type BatchEventHandler = (events: EventEnvelope[], tx: EntityManager) => Promise<void>;

export interface InboxConsumerOptions {
  /** Names the subscriber in the inbox; also the Kafka consumer group unless groupId is given. */
  name: string;
  groupId?: string;
  topics: readonly string[];
  /** The consuming service's schema (holds inbox and dead_letters). */
  schema: string;
  registry: EventRegistry;
  handle: EventHandler;
  /**
   * Optional: apply a whole batch at once (one inbox insert, one call) instead of `handle` per event, for
   * consumers that can do the work of many events in fewer statements. Same guarantees: the inbox rows and the
   * handler's writes commit together, a redelivered event is not handed over again. If it throws
   * PoisonMessageError the batch is rolled back to before it and applied again event by event with `handle`,
   * so the poison record goes to the DLQ alone.
   */
  handleBatch?: BatchEventHandler;
  fromBeginning?: boolean;
  /** Upper bound on one fetch per partition, which bounds one batch transaction (kafkajs default 1 MiB). */
  maxBytesPerPartition?: number;
  /**
   * Event types this consumer acts on; others on the topic are recorded in the inbox as taken in
   * and not handed to `handle`.
   */
  accepts?: (type: string) => boolean;
  onProcessed?: (count: number) => void;
  onDeadLetter?: (letter: DeadLetter) => void;
}

/** One Kafka batch of one partition, as the raw mode hands it over. */
export interface RawBatch {
  topic: string;
  partition: number;
  messages: readonly KafkaMessage[];
}

/** What a raw batch handler did: how many items it took in, and the records it refused, with why. */
export interface RawBatchResult {
  processed: number;
  deadLetters: DeadLetter[];
}

/**
 * Raw/bulk mode: records that are not event envelopes (telemetry samples, a hundred thousand a second),
 * handed over a whole Kafka batch at a time. There is no inbox row per record (it would double the write
 * volume): the handler must make a redelivered batch change nothing on its own (a unique key per record)
 * and commit its writes before it returns. The framework does the rest as for events: the refused records
 * go to `dead_letters` and `<topic>.dlq` with their reasons, then the offset is committed, so a crash
 * anywhere redelivers the batch.
 */
export type RawBatchHandler = (batch: RawBatch) => Promise<RawBatchResult>;

export interface RawConsumerOptions extends Omit<
  InboxConsumerOptions,
  'registry' | 'handle' | 'handleBatch' | 'accepts'
> {
  handleRaw: RawBatchHandler;
  /** kafkajs fetch tuning for bulk: upper bound of one fetch across partitions, and how long a fetch waits to fill. */
  maxBytes?: number;
  maxWaitTimeInMs?: number;
  /** Partitions handled at once (kafkajs `partitionsConsumedConcurrently`); default 1. */
  partitionsConsumedConcurrently?: number;
}

type Parsed = { ok: true; envelope: EventEnvelope } | { ok: false; reason: string; detail: string };

/** Parses a Kafka record into a validated, upcast envelope, or says why it cannot be. */
export function parseEventMessage(message: KafkaMessage, registry: EventRegistry): Parsed {
  if (!message.value) return { ok: false, reason: 'empty-message', detail: 'the record has no value' };
  let json: unknown;
  try {
    json = JSON.parse(message.value.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: 'unparseable-json', detail: (error as Error).message };
  }
  const envelope = eventEnvelopeSchema.safeParse(json);
  if (!envelope.success)
    return { ok: false, reason: 'invalid-envelope', detail: formatZodError(envelope.error) };
  const payload = registry.parsePayload(
    envelope.data.type,
    envelope.data.schemaVersion,
    envelope.data.payload,
  );
  if (!payload.ok) return { ok: false, reason: payload.reason, detail: payload.detail };
  return {
    ok: true,
    envelope: {
      ...envelope.data,
      schemaVersion: payload.value.schemaVersion,
      payload: payload.value.payload,
    },
  };
}

/**
 * Consumes events exactly-once in effect (DESIGN.md section 2, step 5): for each event the inbox row
 * (consumer, event id) and the handler's writes commit in one transaction, so a redelivered event
 * changes nothing. A record that cannot be parsed or that the handler declares poison goes to
 * `<topic>.dlq` with the reason, and consumption goes on. Any other error rolls the batch back and
 * Kafka redelivers it.
 */
export class InboxConsumer {
  private consumer?: Consumer;
  private readonly deadLetters: DeadLetterPublisher;
  private readonly s: string;

  private readonly options: InboxConsumerOptions | RawConsumerOptions;

  /** Events mode (`InboxConsumerOptions`), or raw/bulk mode (`RawConsumerOptions`, with `handleRaw`). */
  constructor(
    private readonly kafka: Kafka,
    private readonly dataSource: DataSource,
    producer: Producer,
    options: InboxConsumerOptions | RawConsumerOptions,
  ) {
    this.options = options;
    this.deadLetters = new DeadLetterPublisher(producer, options.name);
    this.s = ident(options.schema);
  }

  async start(): Promise<void> {
    const raw = 'handleRaw' in this.options ? this.options : undefined;
    this.consumer = this.kafka.consumer({
      groupId: this.options.groupId ?? this.options.name,
      allowAutoTopicCreation: false,
      ...consumerTimingFromEnv(),
      ...(this.options.maxBytesPerPartition
        ? { maxBytesPerPartition: this.options.maxBytesPerPartition }
        : {}),
      ...(raw?.maxBytes ? { maxBytes: raw.maxBytes } : {}),
      ...(raw?.maxWaitTimeInMs ? { maxWaitTimeInMs: raw.maxWaitTimeInMs } : {}),
    });
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [...this.options.topics],
      fromBeginning: this.options.fromBeginning ?? true,
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: raw?.partitionsConsumedConcurrently ?? 1,
      eachBatch: (batch) =>
        raw ? this.onRawBatch(raw, batch) : this.onBatch(this.options as InboxConsumerOptions, batch),
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }

  /** Raw mode: the handler takes the batch in (and commits it), then dead letters, then the offset. */
  private async onRawBatch(
    options: RawConsumerOptions,
    { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload,
  ) {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const result = await options.handleRaw({
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages,
    });
    const letters = result.deadLetters;
    if (letters.length > 0) {
      // One statement for the batch's letters: a bad producer can send many at once.
      await this.dataSource.query(
        `INSERT INTO ${this.s}.dead_letters (consumer, topic, partition, kafka_offset, reason, detail)
         SELECT $1, t.topic, t.partition, t.kafka_offset, t.reason, t.detail
           FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[])
             AS t(topic, partition, kafka_offset, reason, detail)
         ON CONFLICT (consumer, topic, partition, kafka_offset) DO NOTHING`,
        [
          options.name,
          letters.map((l) => l.topic),
          letters.map((l) => l.partition),
          letters.map((l) => l.message.offset),
          letters.map((l) => l.reason),
          letters.map((l) => l.detail),
        ],
      );
      await this.deadLetters.publish(letters);
      for (const letter of letters) options.onDeadLetter?.(letter);
    }
    if (result.processed > 0) options.onProcessed?.(result.processed);
    const last = batch.messages[batch.messages.length - 1].offset;
    resolveOffset(last);
    await commitOffsetsIfNecessary(nextOffset(batch.topic, batch.partition, last)); // autoCommit is off
    await heartbeat();
  }

  private async onBatch(
    options: InboxConsumerOptions,
    { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload,
  ) {
    if (!isRunning() || isStale()) return;
    const letters: DeadLetter[] = [];
    const valid: { message: KafkaMessage; envelope: EventEnvelope }[] = [];
    for (const message of batch.messages) {
      const parsed = parseEventMessage(message, options.registry);
      if (parsed.ok) {
        valid.push({ message, envelope: parsed.envelope });
      } else {
        letters.push({
          topic: batch.topic,
          partition: batch.partition,
          message,
          reason: parsed.reason,
          detail: parsed.detail,
        });
      }
    }

    let processed = 0;
    await runInTransaction(this.dataSource, async (tx) => {
      processed = options.handleBatch
        ? await this.applyAsBatch(options, tx, batch.topic, batch.partition, valid, letters)
        : await this.applyOneByOne(options, tx, batch.topic, batch.partition, valid, letters);
      for (const letter of letters) {
        await tx.query(
          `INSERT INTO ${this.s}.dead_letters (consumer, topic, partition, kafka_offset, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (consumer, topic, partition, kafka_offset) DO NOTHING`,
          [options.name, letter.topic, letter.partition, letter.message.offset, letter.reason, letter.detail],
        );
      }
    });

    await this.deadLetters.publish(letters);
    for (const letter of letters) options.onDeadLetter?.(letter);
    if (processed > 0) options.onProcessed?.(processed);
    const last = batch.messages[batch.messages.length - 1];
    if (last) {
      resolveOffset(last.offset);
      // autoCommit is off, so commit explicitly: the next offset to read, now that the batch is stored.
      await commitOffsetsIfNecessary(nextOffset(batch.topic, batch.partition, last.offset));
    }
    await heartbeat();
  }

  /** Each event in its own savepoint with its inbox row; a poison event is rolled back alone and dead-lettered. */
  private async applyOneByOne(
    options: InboxConsumerOptions,
    tx: EntityManager,
    topic: string,
    partition: number,
    valid: readonly { message: KafkaMessage; envelope: EventEnvelope }[],
    letters: DeadLetter[],
  ): Promise<number> {
    let processed = 0;
    for (const { message, envelope } of valid) {
      await tx.query('SAVEPOINT inbox_event');
      try {
        const inserted = await tx.query(
          `INSERT INTO ${this.s}.inbox (consumer, event_id, topic, partition, kafka_offset, envelope)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (consumer, event_id) DO NOTHING RETURNING seq`,
          [options.name, envelope.eventId, topic, partition, message.offset, JSON.stringify(envelope)],
        );
        // Every event of the topic gets its inbox row, also those this consumer does not act on, so
        // the audit can prove each published event was taken in exactly once by each subscriber.
        if (inserted.length > 0 && (!options.accepts || options.accepts(envelope.type))) {
          await options.handle(envelope, tx);
          processed += 1;
        }
        await tx.query('RELEASE SAVEPOINT inbox_event');
      } catch (error) {
        if (!(error instanceof PoisonMessageError)) throw error;
        await tx.query('ROLLBACK TO SAVEPOINT inbox_event');
        letters.push({ topic, partition, message, reason: error.reason, detail: error.message });
      }
    }
    return processed;
  }

  /** One inbox insert for the batch, then `handleBatch` with the new accepted events; poison -> one by one. */
  private async applyAsBatch(
    options: InboxConsumerOptions,
    tx: EntityManager,
    topic: string,
    partition: number,
    valid: readonly { message: KafkaMessage; envelope: EventEnvelope }[],
    letters: DeadLetter[],
  ): Promise<number> {
    if (valid.length === 0) return 0;
    await tx.query('SAVEPOINT inbox_batch');
    try {
      const firsts = new Map<string, { message: KafkaMessage; envelope: EventEnvelope }>();
      for (const entry of valid)
        if (!firsts.has(entry.envelope.eventId)) firsts.set(entry.envelope.eventId, entry);
      const entries = [...firsts.values()];
      const inserted = await tx.query<{ event_id: string }[]>(
        `INSERT INTO ${this.s}.inbox (consumer, event_id, topic, partition, kafka_offset, envelope)
         SELECT $1, (r->>'eventId')::uuid, $2, $3, (r->>'offset')::bigint, r->'envelope'
           FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS t(r, n)
          ORDER BY n
         ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id::text AS event_id`,
        // One JSON document, not a jsonb[] parameter: node-postgres would escape every envelope into an array literal.
        [
          options.name,
          topic,
          partition,
          JSON.stringify(
            entries.map((entry) => ({
              eventId: entry.envelope.eventId,
              offset: entry.message.offset,
              envelope: entry.envelope,
            })),
          ),
        ],
      );
      const fresh = new Set(inserted.map((row) => row.event_id.toLowerCase()));
      const accepted = entries
        .map((entry) => entry.envelope)
        .filter(
          (envelope) =>
            fresh.has(envelope.eventId.toLowerCase()) && (!options.accepts || options.accepts(envelope.type)),
        );
      if (accepted.length > 0) await options.handleBatch!(accepted, tx);
      await tx.query('RELEASE SAVEPOINT inbox_batch');
      return accepted.length;
    } catch (error) {
      if (!(error instanceof PoisonMessageError)) throw error;
      await tx.query('ROLLBACK TO SAVEPOINT inbox_batch');
      return this.applyOneByOne(options, tx, topic, partition, valid, letters);
    }
  }
}

/** The commit that says "everything up to and including `offset` is done" for one partition. */
export function nextOffset(topic: string, partition: number, offset: string) {
  return { topics: [{ topic, partitions: [{ partition, offset: (BigInt(offset) + 1n).toString() }] }] };
}
