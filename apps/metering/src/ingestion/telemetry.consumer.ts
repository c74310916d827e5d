import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  BeforeApplicationShutdown,
} from '@nestjs/common';
import { deadLetterTopic, Topics } from '@fleetledger/contracts';
import { TelemetrySample } from '@fleetledger/contracts/metering';
import {
  consumerTimingFromEnv,
  DeadLetter,
  DeadLetterPublisher,
  ensureTopics,
  nextOffset,
} from '@fleetledger/eventstore';
import { KAFKA, Messaging, Metrics, PRODUCER, SERVICE_ENV, ServiceEnv } from '@fleetledger/platform';
import { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';
import { METERING_ENV, MeteringEnv } from '../metering.config';
import { SampleIngestor } from './sample-ingestor';
import { parseTelemetryRecord } from './sample-parsing';

export const TELEMETRY_CONSUMER = 'metering-telemetry';

/**
 * The high-volume path: raw samples from `metering.telemetry.v1` (keyed by node; one sample or a
 * node report per record), a whole Kafka
 * batch per Postgres transaction. Malformed records go to `<topic>.dlq` with the reason (and to
 * metering.dead_letters), then the valid ones are stored, then the offset is committed, so a crash
 * anywhere redelivers the batch and the sample-id key makes the redelivery change nothing.
 */
@Injectable()
export class TelemetryConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TelemetryConsumer.name);
  private consumer?: Consumer;
  private readonly deadLetters: DeadLetterPublisher;
  private readonly samplesTotal: Counter<'outcome'>;
  private readonly lagSeconds: Histogram;
  /** Set by benchmarks: per sample, wall-clock ms from produce to commit, and the samples committed. */
  onCommitted?: (lagsMs: number[], samples: readonly TelemetrySample[]) => void;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(PRODUCER) producer: Producer,
    @Inject(SERVICE_ENV) private readonly env: ServiceEnv,
    @Inject(METERING_ENV) private readonly meteringEnv: MeteringEnv,
    private readonly messaging: Messaging,
    private readonly ingestor: SampleIngestor,
    private readonly dataSource: DataSource,
    private readonly metrics: Metrics,
  ) {
    this.deadLetters = new DeadLetterPublisher(producer, TELEMETRY_CONSUMER);
    const registers = [metrics.registry];
    this.samplesTotal = new Counter({
      name: 'fleetledger_metering_samples_total',
      help: 'Telemetry samples by outcome (accepted, duplicate, unattributed, dead-lettered)',
      labelNames: ['outcome'],
      registers,
    });
    this.lagSeconds = new Histogram({
      name: 'fleetledger_metering_ingest_lag_seconds',
      help: 'Kafka record timestamp to usage window updated (commit)',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
  }

  get topic(): string {
    return this.messaging.topic(Topics.meteringTelemetry);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.env.CONSUMERS) return;
    await ensureTopics(this.kafka, [this.topic, deadLetterTopic(this.topic)]);
    this.consumer = this.kafka.consumer({
      groupId: `${this.env.KAFKA_TOPIC_PREFIX}${TELEMETRY_CONSUMER}`,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: 10 * 1024 * 1024,
      maxBytes: 40 * 1024 * 1024,
      maxWaitTimeInMs: 100,
      ...consumerTimingFromEnv(),
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.meteringEnv.METERING_TELEMETRY_CONCURRENCY,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /**
   * Before TypeORM closes its pool (onApplicationShutdown): on SIGTERM the in-flight batch still commits
   * its rows and then its offset, so a rolling restart redelivers nothing (test/faults, graceful shutdown).
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }

  private async onBatch({
    batch,
    resolveOffset,
    commitOffsetsIfNecessary,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload) {
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const samples: TelemetrySample[] = [];
    const sampleMessages: KafkaMessage[] = [];
    const letters: DeadLetter[] = [];
    for (const message of batch.messages) {
      const parsed = parseTelemetryRecord(message.value);
      for (const sample of parsed.samples) {
        samples.push(sample);
        sampleMessages.push(message);
      }
      if (parsed.problem)
        letters.push({ topic: batch.topic, partition: batch.partition, message, ...parsed.problem });
    }
    await this.deadLetter(batch.topic, batch.partition, letters);
    if (samples.length > 0) {
      const result = await this.ingestor.ingest(samples, 'kafka');
      await this.deadLetter(
        batch.topic,
        batch.partition,
        // One letter per record (a node report may hold several refused samples).
        [...new Map(result.beyondRetention.map((index) => [sampleMessages[index], index]))].map(
          ([message, index]) => ({
            topic: batch.topic,
            partition: batch.partition,
            message,
            reason: 'beyond-retention',
            detail: `the day of ${samples[index].sampledAt} is archived: the sample cannot be deduplicated against it`,
          }),
        ),
      );
      const now = Date.now();
      const lags = sampleMessages.map((m) => now - Number(m.timestamp));
      for (const lag of lags) this.lagSeconds.observe(lag / 1000);
      this.onCommitted?.(lags, samples);
      this.samplesTotal.inc({ outcome: 'accepted' }, result.accepted);
      this.samplesTotal.inc({ outcome: 'duplicate' }, result.duplicates);
      this.samplesTotal.inc({ outcome: 'unattributed' }, result.unattributed);
      this.metrics.eventsConsumed.inc({ consumer: TELEMETRY_CONSUMER }, result.accepted);
    }
    const last = batch.messages[batch.messages.length - 1].offset;
    resolveOffset(last);
    await commitOffsetsIfNecessary(nextOffset(batch.topic, batch.partition, last)); // autoCommit is off: commit explicitly
    await heartbeat();
  }

  /** Dead letters to metering.dead_letters and `<topic>.dlq` (with the reason), before the offset commit. */
  private async deadLetter(topic: string, partition: number, letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO metering.dead_letters (consumer, topic, partition, kafka_offset, reason, detail)
       SELECT $1, $2, $3, * FROM unnest($4::bigint[], $5::text[], $6::text[])
       ON CONFLICT (consumer, topic, partition, kafka_offset) DO NOTHING`,
      [
        TELEMETRY_CONSUMER,
        topic,
        partition,
        letters.map((l) => l.message.offset),
        letters.map((l) => l.reason),
        letters.map((l) => l.detail),
      ],
    );
    await this.deadLetters.publish(letters);
    for (const letter of letters)
      this.metrics.deadLetters.inc({ consumer: TELEMETRY_CONSUMER, reason: letter.reason });
    this.samplesTotal.inc({ outcome: 'dead-lettered' }, letters.length);
    this.logger.warn(
      `${letters.length} samples to ${deadLetterTopic(topic)} (${letters[0].reason}: ${letters[0].detail})`,
    );
  }
}
