import { Kafka, logLevel, Producer } from 'kafkajs';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
}

export function createKafka({ brokers, clientId }: KafkaSettings): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
  });
}

/**
 * The producer every service publishes with: idempotent, acks from all in-sync replicas, one request
 * in flight so a stream's order survives retries. Sends are always awaited by callers.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
}

/** Creates topics that do not exist yet (and their dead-letter topics), with the given partitions. */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly string[],
  options: { numPartitions?: number; replicationFactor?: number } = {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: options.numPartitions ?? 3,
          replicationFactor: options.replicationFactor ?? 1,
        })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}
