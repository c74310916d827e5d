import { Kafka, logLevel, Producer, SASLOptions } from 'kafkajs';
import { KafkaTls, kafkaSecurityFromEnv } from './kafka-security';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** SASL credentials; absent only against an unauthenticated broker (docs/deploy.md, "Kafka security"). */
  sasl?: SASLOptions;
  /** TLS to the brokers (SASL_SSL); the local loopback broker is SASL_PLAINTEXT. */
  ssl?: KafkaTls;
}

const LOG_LEVELS: Record<string, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

export function createKafka({ brokers, clientId, sasl, ssl }: KafkaSettings): Kafka {
  // kafkajs 2 warns once about its default partitioner change; we rely on the default (murmur2, as Java).
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  return new Kafka({
    clientId,
    brokers,
    ...(sasl ? { sasl } : {}),
    ...(ssl ? { ssl } : {}),
    logLevel: LOG_LEVELS[process.env.KAFKAJS_LOG_LEVEL ?? 'warn'] ?? logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
  });
}

/**
 * For command-line tools (scripts, benchmarks, the telemetry simulator): brokers from KAFKA_BROKERS
 * (default the local 127.0.0.1:9092), credentials from KAFKA_SASL_* (all three or none), TLS from KAFKA_SSL.
 */
export function kafkaSettingsFromEnv(
  clientId: string,
  env: Record<string, string | undefined> = process.env,
): KafkaSettings {
  const brokers = (env.KAFKA_BROKERS ?? '127.0.0.1:9092')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  return { brokers, clientId, ...kafkaSecurityFromEnv(env) };
}

/**
 * The producer every service publishes with: idempotent, acks from all in-sync replicas, one request
 * in flight so a stream's order survives retries. Sends are always awaited by callers.
 * Retries are bounded (kafkajs would retry forever, which would hang shutdown): a send that still
 * fails is retried by the outbox relay later, and any duplicate that causes is absorbed by the
 * consumers' inboxes, which is where exactly-once is really enforced (DESIGN.md section 2).
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 },
  });
}

/**
 * Creates topics that do not exist yet, with the given partitions. Several services start at once
 * and create shared topics concurrently, so a failed attempt is retried after listing again.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly string[],
  options: { numPartitions?: number; replicationFactor?: number } = {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: options.numPartitions ?? 3,
            replicationFactor: options.replicationFactor ?? 1,
          })),
        });
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 300 * attempt));
      }
    }
  } finally {
    await admin.disconnect();
  }
}
