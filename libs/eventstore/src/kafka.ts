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
 * The producer every service publishes with: idempotent, acks from all in-sync replicas (kafkajs sends
 * acks=-1 by default and refuses anything else on an idempotent producer), one request in flight so a
 * stream's order survives retries and leader changes. Sends are always awaited by callers. On a
 * replicated cluster a write is acknowledged once min.insync.replicas copies have it, so a leader that
 * dies after acknowledging loses nothing; one that dies before makes kafkajs retry against the new leader
 * (metadata refresh on NOT_LEADER_FOR_PARTITION), and the idempotent sequence numbers drop the copy the old
 * leader may already have replicated.
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
 * How the topics a service creates are replicated (docs/deploy.md, "A replicated Kafka cluster"):
 * KAFKA_REPLICATION_FACTOR copies of each partition (1 on the local single broker, 3 on a cluster) and,
 * with KAFKA_MIN_INSYNC_REPLICAS, the topic refuses an acks=all write that fewer replicas acknowledged.
 */
export function topicReplicationFromEnv(env: Record<string, string | undefined> = process.env): {
  replicationFactor: number;
  minInsyncReplicas?: number;
} {
  const replicationFactor = Number(env.KAFKA_REPLICATION_FACTOR ?? 1);
  const minInsyncReplicas = env.KAFKA_MIN_INSYNC_REPLICAS ? Number(env.KAFKA_MIN_INSYNC_REPLICAS) : undefined;
  return { replicationFactor, ...(minInsyncReplicas ? { minInsyncReplicas } : {}) };
}

/**
 * Consumer group timing (docs/deploy.md): a member that sends no heartbeat for KAFKA_SESSION_TIMEOUT_MS
 * (30 s) is dropped and its partitions go to the others; heartbeats every KAFKA_HEARTBEAT_INTERVAL_MS
 * (3 s, at most a third of the session timeout).
 */
export function consumerTimingFromEnv(env: Record<string, string | undefined> = process.env): {
  sessionTimeout: number;
  heartbeatInterval: number;
} {
  return {
    sessionTimeout: Number(env.KAFKA_SESSION_TIMEOUT_MS ?? 30_000),
    heartbeatInterval: Number(env.KAFKA_HEARTBEAT_INTERVAL_MS ?? 3_000),
  };
}

/**
 * Creates topics that do not exist yet, with the given partitions and the deployment's replication
 * (topicReplicationFromEnv unless given). Several services start at once and create shared topics
 * concurrently, so a failed attempt is retried after listing again.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly string[],
  options: { numPartitions?: number; replicationFactor?: number; minInsyncReplicas?: number } = {},
): Promise<void> {
  const replication = { ...topicReplicationFromEnv(), ...options };
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
            replicationFactor: replication.replicationFactor,
            ...(replication.minInsyncReplicas
              ? {
                  configEntries: [
                    { name: 'min.insync.replicas', value: String(replication.minInsyncReplicas) },
                  ],
                }
              : {}),
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
