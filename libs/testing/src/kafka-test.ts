import { randomBytes } from 'node:crypto';
import { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { KafkaUser } from '@fleetledger/contracts';
import { createKafka } from '@fleetledger/eventstore';
import { testKafkaSasl, testKafkaTls } from './kafka-auth';

/** A Kafka client for a test, as `user`: admin for set-up and checks, a service's user to publish as it. */
export function testKafka(clientId = 'fleetledger-test', user?: KafkaUser): Kafka {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers)
    throw new Error('KAFKA_BROKERS is not set: run integration tests through jest (global setup)');
  return createKafka({
    brokers: brokers.split(','),
    clientId,
    sasl: testKafkaSasl(user),
    ssl: testKafkaTls(),
  });
}

/** A topic namespace of its own for one test file, so tests on a shared broker never see each other. */
export function uniqueTopicPrefix(): string {
  return `t${randomBytes(4).toString('hex')}.`;
}

export interface CollectedMessage {
  topic: string;
  partition: number;
  message: KafkaMessage;
  value: unknown;
  headers: Record<string, string>;
}

/** Reads topics from the beginning into memory, so a test can wait for what it expects to see. */
export class TopicCollector {
  readonly messages: CollectedMessage[] = [];
  private consumer?: Consumer;

  /** `groupPrefix`: a user other than admin may only use its own groups (`<prefix><user>-`). */
  constructor(
    private readonly kafka: Kafka,
    private readonly groupPrefix = 'collector-',
  ) {}

  async start(topics: string[]): Promise<this> {
    this.consumer = this.kafka.consumer({ groupId: `${this.groupPrefix}${randomBytes(4).toString('hex')}` });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const raw = message.value?.toString('utf8') ?? '';
        let value: unknown = raw;
        try {
          value = JSON.parse(raw);
        } catch {
          /* not JSON: keep the text */
        }
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([k, v]) => [
            k,
            Buffer.isBuffer(v) ? v.toString('utf8') : String(v),
          ]),
        );
        this.messages.push({ topic, partition, message, value, headers });
      },
    });
    return this;
  }

  async waitFor(
    predicate: (messages: CollectedMessage[]) => boolean,
    timeoutMs = 30_000,
  ): Promise<CollectedMessage[]> {
    await waitUntil(() => predicate(this.messages), timeoutMs, 'messages on the topic');
    return this.messages;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
