import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { deadLetterTopic, EventHeaders, servicePrincipal, topicName } from '@fleetledger/contracts';
import {
  InboxConsumer,
  InboxConsumerOptions,
  OutboxRelay,
  RawConsumerOptions,
} from '@fleetledger/eventstore';
import { ensureTopics } from '@fleetledger/eventstore/kafka-admin';
import { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { runAs } from './auth/request-context';
import { Metrics } from './metrics';
import type { ServiceEnv } from './config';
import type { ServiceOptions } from './service-options';
import { KAFKA, PRODUCER, SERVICE_ENV, SERVICE_OPTIONS } from './tokens';

export type ConsumerRegistration = Omit<
  InboxConsumerOptions,
  'schema' | 'registry' | 'topics' | 'groupId'
> & {
  /** Base topic names (Topics.*); the deployment prefix is added here. */
  topics: string[];
};

/** A raw/bulk consumer (records that are not event envelopes): see libs/eventstore's `RawBatchHandler`. */
export type RawConsumerRegistration = Omit<RawConsumerOptions, 'schema' | 'topics' | 'groupId'> & {
  topics: string[];
};

/**
 * Owns the service's Kafka side: creates its topics, runs the outbox relay and the inbox consumers,
 * and stops them in a safe order on shutdown (consumers finish their batch and commit, then the
 * relay finishes its batch, then the producer disconnects).
 */
@Injectable()
export class Messaging implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(Messaging.name);
  private readonly registrations: (ConsumerRegistration | RawConsumerRegistration)[] = [];
  private readonly consumers: InboxConsumer[] = [];
  private relay?: OutboxRelay;
  private gaugeTimer?: NodeJS.Timeout;

  constructor(
    @Inject(SERVICE_OPTIONS) private readonly options: ServiceOptions,
    @Inject(SERVICE_ENV) private readonly env: ServiceEnv,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(PRODUCER) private readonly producer: Producer,
    private readonly dataSource: DataSource,
    private readonly metrics: Metrics,
  ) {}

  /** The full name of a topic in this deployment. */
  topic(base: string): string {
    return topicName(base, this.env.KAFKA_TOPIC_PREFIX);
  }

  /** The topic this service's own events go to (pass it as `topic` when appending). */
  get eventsTopic(): string {
    return this.topic(this.options.eventsTopic);
  }

  /**
   * Registers a consumer. Call it from the consumer provider's `onModuleInit` (docs/architecture.md, "One
   * service skeleton"): consumers start together in `onApplicationBootstrap`, after every module is ready.
   */
  registerConsumer(registration: ConsumerRegistration): void {
    this.registrations.push(registration);
  }

  /** Registers a raw/bulk consumer (same framework, same group id, DLQ and lag gauges as the others). */
  registerRawConsumer(registration: RawConsumerRegistration): void {
    this.registrations.push(registration);
  }

  async onApplicationBootstrap(): Promise<void> {
    const bases = [
      this.options.eventsTopic,
      ...(this.options.consumedTopics ?? []),
      ...this.registrations.flatMap((r) => r.topics),
    ];
    const topics = [...new Set(bases.map((b) => this.topic(b)))];
    await ensureTopics(this.kafka, [...topics, ...topics.map(deadLetterTopic)]);
    await this.producer.connect();
    if (this.env.OUTBOX_RELAY) {
      this.relay = new OutboxRelay(this.dataSource, this.producer, {
        schema: this.options.schema,
        onPublished: (n) => this.metrics.eventsPublished.inc(n),
        onError: (error) => this.logger.error(`outbox relay: ${(error as Error).message}`),
      });
      this.relay.start();
    }
    if (this.env.CONSUMERS) {
      // A consumer acts as its service: the events it appends record the service principal (and,
      // through the handler, the causation id of the event that caused them).
      const principal = servicePrincipal(this.options.service);
      for (const registration of this.registrations) {
        const common = {
          topics: registration.topics.map((t) => this.topic(t)),
          groupId: `${this.env.KAFKA_TOPIC_PREFIX}${registration.name}`,
          schema: this.options.schema,
        };
        if ('handleRaw' in registration) {
          const { handleRaw } = registration;
          const consumer = new InboxConsumer(this.kafka, this.dataSource, this.producer, {
            ...registration,
            ...common,
            handleRaw: (batch) => runAs(principal, () => handleRaw(batch)),
            onProcessed: (n) => {
              this.metrics.eventsConsumed.inc({ consumer: registration.name }, n);
              registration.onProcessed?.(n);
            },
            // A raw consumer reports its dead letters itself (one log line per batch, not per record).
            onDeadLetter: (letter) => {
              this.metrics.deadLetters.inc({ consumer: registration.name, reason: letter.reason });
              registration.onDeadLetter?.(letter);
            },
          });
          await consumer.start();
          this.consumers.push(consumer);
          continue;
        }
        const { handle, handleBatch } = registration;
        const consumer = new InboxConsumer(this.kafka, this.dataSource, this.producer, {
          ...registration,
          ...common,
          handle: (event, tx) => runAs(principal, () => handle(event, tx)),
          handleBatch: handleBatch && ((events, tx) => runAs(principal, () => handleBatch(events, tx))),
          registry: this.options.registry,
          onProcessed: (n) => {
            this.metrics.eventsConsumed.inc({ consumer: registration.name }, n);
            registration.onProcessed?.(n);
          },
          onDeadLetter: (letter) => {
            this.metrics.deadLetters.inc({ consumer: registration.name, reason: letter.reason });
            const correlationId = letter.message.headers?.[EventHeaders.correlationId]?.toString();
            this.logger.warn({
              msg: 'dead letter',
              consumer: registration.name,
              topic: letter.topic,
              partition: letter.partition,
              offset: letter.message.offset,
              reason: letter.reason,
              detail: letter.detail,
              ...(correlationId ? { correlationId } : {}),
            });
            registration.onDeadLetter?.(letter);
          },
        });
        await consumer.start();
        this.consumers.push(consumer);
      }
    }
    this.gaugeTimer = setInterval(() => {
      this.refreshGauges().catch((error: Error) => this.logger.warn(`metrics refresh: ${error.message}`));
    }, 10_000);
    this.gaugeTimer.unref();
  }

  /** Outbox backlog and consumer lag, for the Prometheus gauges. */
  async refreshGauges(): Promise<void> {
    if (this.relay) this.metrics.outboxPending.set(await this.relay.pendingCount());
    for (const { consumer, topic, partition, lag } of await this.consumerLag()) {
      this.metrics.consumerLag.set({ consumer, topic, partition: String(partition) }, lag);
    }
  }

  /** Per consumer group and partition: how many records it is behind the end of the log. */
  async consumerLag(): Promise<{ consumer: string; topic: string; partition: number; lag: number }[]> {
    if (this.registrations.length === 0) return [];
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const out = [];
      for (const registration of this.registrations) {
        const groupId = `${this.env.KAFKA_TOPIC_PREFIX}${registration.name}`;
        const topics = registration.topics.map((t) => this.topic(t));
        const committed = await admin.fetchOffsets({ groupId, topics });
        for (const { topic, partitions } of committed) {
          const ends = new Map(
            (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]),
          );
          for (const { partition, offset } of partitions) {
            const position = Number(offset) < 0 ? 0 : Number(offset);
            out.push({
              consumer: registration.name,
              topic,
              partition,
              lag: Math.max((ends.get(partition) ?? 0) - position, 0),
            });
          }
        }
      }
      return out;
    } finally {
      await admin.disconnect();
    }
  }

  /** Publishes what is in the outbox now (tests and shutdown). */
  async flushOutbox(): Promise<number> {
    return this.relay ? this.relay.drain() : 0;
  }

  /** Runs before TypeORM closes its pool (onApplicationShutdown), so in-flight batches can still commit. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.gaugeTimer);
    for (const consumer of this.consumers.splice(0)) await consumer.stop();
    await this.relay?.stop();
    await this.producer.disconnect();
  }
}
