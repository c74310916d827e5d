import { appendFileSync } from 'node:fs';
import {
  Topics,
  topicName,
  kafkaAclBindings,
  KafkaServiceName,
  ServiceKafkaTopics,
  KafkaUsers,
  KafkaUser,
} from '@fleetledger/contracts';
import { createKafka, KafkaCredentials, kafkaSecurityFromEnv, KafkaTls } from '@fleetledger/eventstore';
import { applyAclBindings, kafkaSaslFromEnv } from '@fleetledger/eventstore/kafka-admin';
import type { Producer, ProducerBatch, ProducerRecord, RecordMetadata, SASLOptions } from 'kafkajs';

/**
 * Who the tests are on the broker (docs/deploy.md, "Kafka security"). Three set-ups:
 * - per-user: KAFKA_CREDENTIALS_FILE names the file `infra/kafka/kafka.sh up` generated. Test set-up and
 *   clean-up use `admin`; a service under test gets its own user; a fixture published "as" a service uses
 *   that service's user, so the ACLs are exercised by every test. The global setup sets the variable when
 *   it uses the local broker.
 * - one identity: KAFKA_BROKERS given with KAFKA_SASL_* (and no credentials file): everything, services
 *   included, connects as that user, which must be allowed everything the tests do (a super user).
 * - none: an unauthenticated broker (testcontainers, a developer's PLAINTEXT broker).
 */
let credentials: { file: string; value: KafkaCredentials } | undefined;

/** The per-user credentials, or undefined outside the per-user set-up. */
export function testKafkaCredentials(): KafkaCredentials | undefined {
  const file = process.env.KAFKA_CREDENTIALS_FILE;
  if (!file) return undefined;
  if (credentials?.file !== file) credentials = { file, value: KafkaCredentials.read(file) };
  return credentials.value;
}

/** The one identity given in KAFKA_SASL_* when the tests started (services under test overwrite KAFKA_SASL_*). */
const sharedIdentity = kafkaSaslFromEnv(process.env);

/** SASL options for a test client acting as `user` (admin unless a test proves an ACL). */
export function testKafkaSasl(user: KafkaUser = KafkaUsers.admin): SASLOptions | undefined {
  return testKafkaCredentials()?.sasl(user) ?? sharedIdentity;
}

/** The TLS settings of the broker: from the credentials file, else KAFKA_SSL* as given when the tests started. */
const sharedTls = kafkaSecurityFromEnv(process.env).ssl;
export function testKafkaTls(): KafkaTls | undefined {
  const perUser = testKafkaCredentials();
  return perUser ? perUser.ssl : sharedTls;
}

/** The KAFKA_SASL_* a service under test runs with: its own user when there is one. */
export function serviceKafkaEnv(service: string): Record<string, string> {
  const perUser = testKafkaCredentials();
  if (!perUser) return {};
  const user = service in ServiceKafkaTopics ? (service as KafkaServiceName) : KafkaUsers.admin;
  return perUser.env(user);
}

const granted = new Set<string>();

/**
 * Creates the ACLs of every FleetLedger user for one test file's topic prefix, once per prefix and worker
 * (the broker keeps them; a binding created twice is one binding). Nothing to do without per-user credentials.
 */
export async function grantTestPrefix(prefix: string): Promise<void> {
  if (!testKafkaCredentials() || granted.has(prefix)) return;
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  await applyAclBindings(
    createKafka({
      brokers,
      clientId: 'fleetledger-test-acls',
      sasl: testKafkaSasl(KafkaUsers.admin),
      ssl: testKafkaTls(),
    }),
    kafkaAclBindings(prefix),
  );
  granted.add(prefix);
  // The global teardown deletes what this run granted (revokeKafkaTestGrants), so a long-lived broker
  // does not collect the ACLs of every test file ever run.
  if (process.env.KAFKA_TEST_GRANTS_FILE) appendFileSync(process.env.KAFKA_TEST_GRANTS_FILE, `${prefix}\n`);
}

/**
 * The user that may write `topic` under `prefix`: the service whose events or replies it is, the
 * telemetry agents for telemetry, admin for anything else (dead letters, request topics).
 */
export function topicWriter(topic: string, prefix: string): KafkaUser {
  if (topic === topicName(Topics.meteringTelemetry, prefix)) return KafkaUsers.telemetry;
  for (const [service, topics] of Object.entries(ServiceKafkaTopics))
    if ([topics.events, ...topics.replies].some((base) => topicName(base, prefix) === topic))
      return service as KafkaServiceName;
  return KafkaUsers.admin;
}

/**
 * A producer standing in for the other services of a test: each record is sent as the user that owns its
 * topic (inventory events as `inventory`, samples as `telemetry`...), so fixtures pass the same ACLs the
 * real publishers do. Connects lazily, one kafkajs producer per user; `send` and `sendBatch` only.
 */
export function topicOwnersProducer(prefix: string, clientId = 'fleetledger-test-publisher'): Producer {
  const producers = new Map<KafkaUser, Promise<Producer>>();
  const as = (user: KafkaUser) => {
    let producer = producers.get(user);
    if (!producer) {
      const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
      const created = createKafka({
        brokers,
        clientId: `${clientId}-${user}`,
        sasl: testKafkaSasl(user),
        ssl: testKafkaTls(),
      }).producer();
      producer = created.connect().then(() => created);
      producers.set(user, producer);
    }
    return producer;
  };
  const publisher = {
    connect: async () => undefined,
    disconnect: async () => {
      for (const producer of producers.values()) await (await producer).disconnect();
      producers.clear();
    },
    send: async (record: ProducerRecord): Promise<RecordMetadata[]> =>
      (await as(topicWriter(record.topic, prefix))).send(record),
    sendBatch: async (batch: ProducerBatch): Promise<RecordMetadata[]> => {
      const byUser = new Map<KafkaUser, NonNullable<ProducerBatch['topicMessages']>>();
      for (const topicMessages of batch.topicMessages ?? []) {
        const user = topicWriter(topicMessages.topic, prefix);
        byUser.set(user, [...(byUser.get(user) ?? []), topicMessages]);
      }
      const results = await Promise.all(
        [...byUser].map(async ([user, topicMessages]) =>
          (await as(user)).sendBatch({ ...batch, topicMessages }),
        ),
      );
      return results.flat();
    },
  };
  return publisher as unknown as Producer;
}
