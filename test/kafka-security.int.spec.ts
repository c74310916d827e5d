import { randomUUID } from 'node:crypto';
import { allTopics, KafkaUser, Topics, topicName } from '@fleetledger/contracts';
import { createKafka } from '@fleetledger/eventstore';
import { ensureTopics } from '@fleetledger/eventstore/kafka-admin';
import {
  grantTestPrefix,
  testKafka,
  testKafkaCredentials,
  testKafkaSasl,
  testKafkaTls,
  TopicCollector,
  uniqueTopicPrefix,
  waitUntil,
} from '@fleetledger/testing';
import { Consumer, Kafka, KafkaJSError, logLevel, Producer } from 'kafkajs';

/**
 * The broker's side of DESIGN.md section 5a: SASL/SCRAM per service and deny-by-default ACLs
 * (libs/contracts/src/kafka-acls.ts). Only meaningful with per-user credentials (the local SCRAM broker, or
 * KAFKA_CREDENTIALS_FILE); against an unauthenticated broker there is nothing to prove, so it is skipped.
 */
const withUsers = testKafkaCredentials() ? describe : describe.skip;

/** What a refused call failed with: the broker's error (TOPIC_AUTHORIZATION_FAILED...) under kafkajs' wrappers, or the class name. */
async function refusal(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (error) {
    for (
      let e = error as (Error & { type?: string; cause?: unknown }) | undefined;
      e;
      e = e.cause as typeof e
    )
      if (e.type) return e.type;
    return (error as Error).name;
  }
  return 'allowed';
}

withUsers('Kafka authentication and ACLs on the real broker', () => {
  const prefix = uniqueTopicPrefix();
  const topic = (base: string) => topicName(base, prefix);
  const opened: { disconnect(): Promise<void> }[] = [];
  let audit: TopicCollector;

  /** An idempotent producer as the services use, authenticated as `user`. */
  async function producerAs(user: KafkaUser): Promise<Producer> {
    const producer = testKafka(`acl-test-${user}`, user).producer({
      idempotent: true,
      maxInFlightRequests: 1,
    });
    opened.push(producer);
    await producer.connect();
    return producer;
  }

  const record = (from: string) => ({ key: 'stream-1', value: JSON.stringify({ from, id: randomUUID() }) });

  beforeAll(async () => {
    await grantTestPrefix(prefix);
    await ensureTopics(testKafka('acl-test-admin'), allTopics(prefix));
    // The audit user reads every topic: what it sees is what really reached the log.
    audit = await new TopicCollector(testKafka('acl-test-audit', 'audit'), `${prefix}audit-`).start([
      topic(Topics.billingEvents),
      topic(Topics.inventoryEvents),
      topic(Topics.meteringEvents),
    ]);
  });

  afterAll(async () => {
    for (const client of opened) await client.disconnect().catch(() => undefined);
    await audit?.stop();
  });

  it('a service writes its own events topic', async () => {
    const billing = await producerAs('billing');
    const written = await billing.send({
      topic: topic(Topics.billingEvents),
      acks: -1,
      messages: [record('billing')],
    });
    expect(written[0].errorCode).toBe(0);
    const seen = await audit.waitFor((m) => m.some((x) => (x.value as { from: string }).from === 'billing'));
    expect(seen.filter((x) => (x.value as { from: string }).from === 'billing')).toHaveLength(1);
  });

  it.each<[string, KafkaUser, string]>([
    ['inventory cannot forge a billing event', 'inventory', Topics.billingEvents],
    ['metering cannot forge a billing event', 'metering', Topics.billingEvents],
    ['billing cannot write inventory events', 'billing', Topics.inventoryEvents],
    ['a telemetry agent cannot write metering events', 'telemetry', Topics.meteringEvents],
  ])('%s: TOPIC_AUTHORIZATION_FAILED, nothing written', async (_case, user, base) => {
    const producer = await producerAs(user);
    const forged = record(`forged-by-${user}`);
    expect(await refusal(() => producer.send({ topic: topic(base), acks: -1, messages: [forged] }))).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    // A record written after the attempt arrives; the forged one never does.
    const admin = await producerAs('admin');
    await admin.send({ topic: topic(base), acks: -1, messages: [record(`marker-${user}`)] });
    await audit.waitFor((m) => m.some((x) => (x.value as { from: string }).from === `marker-${user}`));
    expect(audit.messages.filter((x) => (x.value as { from: string }).from === `forged-by-${user}`)).toEqual(
      [],
    );
  });

  it('an idempotent producer needs WRITE on a topic, not IDEMPOTENT_WRITE on the cluster (KIP-679): the audit user has neither', async () => {
    const producer = testKafka('acl-test-audit-writer', 'audit').producer({
      idempotent: true,
      maxInFlightRequests: 1,
    });
    opened.push(producer);
    expect(await refusal(() => producer.connect())).toBe('CLUSTER_AUTHORIZATION_FAILED');
  });

  it('a telemetry agent produces samples to the telemetry topic', async () => {
    const agent = await producerAs('telemetry');
    const written = await agent.send({
      topic: topic(Topics.meteringTelemetry),
      acks: -1,
      messages: [record('agent')],
    });
    expect(written[0].errorCode).toBe(0);
  });

  it.each<[string, string | undefined]>([
    ['no credentials', undefined],
    ['a wrong password', 'not-the-password'],
  ])('a client with %s cannot connect or produce', async (_case, password) => {
    const kafka = createKafka({
      brokers: process.env.KAFKA_BROKERS!.split(','),
      clientId: 'acl-test-intruder',
      sasl: password ? { mechanism: 'scram-sha-512', username: 'billing', password } : undefined,
      ssl: testKafkaTls(),
    });
    const producer = kafka.producer({ retry: { retries: 0 } });
    const outcome = await refusal(async () => {
      await producer.connect();
      await producer.send({ topic: topic(Topics.billingEvents), acks: -1, messages: [record('intruder')] });
    });
    await producer.disconnect().catch(() => undefined);
    // Without SASL the broker closes the connection at the first request (kafkajs retries, then gives up).
    expect(outcome).toMatch(
      password
        ? /^KafkaJSSASLAuthenticationError$/
        : /^(KafkaJSConnectionError|KafkaJSConnectionClosedError|KafkaJSNumberOfRetriesExceeded)$/,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(audit.messages.filter((x) => (x.value as { from: string }).from === 'intruder')).toEqual([]);
  });

  describe('reading', () => {
    const consumers: Consumer[] = [];
    afterAll(async () => {
      for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
    });

    /**
     * Subscribes and runs a consumer as `user`; resolves to 'allowed' once it joined its group, or to the
     * broker's refusal. kafkajs reports a refused group coordinator lookup only as "coordinator not found",
     * so its debug log is read for the broker's real answer.
     */
    async function consume(user: KafkaUser, groupSuffix: string, base: string): Promise<string> {
      // kafkajs lets KAFKAJS_LOG_LEVEL (npm test sets `nothing`) override a client's log level; this
      // file's process.env is its own, so lift it while this client lives.
      const envLogLevel = process.env.KAFKAJS_LOG_LEVEL;
      process.env.KAFKAJS_LOG_LEVEL = 'debug';
      try {
        return await consumeLogged(user, groupSuffix, base);
      } finally {
        process.env.KAFKAJS_LOG_LEVEL = envLogLevel;
        if (envLogLevel === undefined) delete process.env.KAFKAJS_LOG_LEVEL;
      }
    }

    async function consumeLogged(user: KafkaUser, groupSuffix: string, base: string): Promise<string> {
      const brokerErrors: string[] = [];
      const kafka = new Kafka({
        clientId: `acl-test-reader-${user}`,
        brokers: process.env.KAFKA_BROKERS!.split(','),
        sasl: testKafkaSasl(user),
        ssl: testKafkaTls(),
        retry: { retries: 0 },
        logLevel: logLevel.DEBUG,
        logCreator: () => (entry) => {
          const type = (entry.log as { error?: { type?: string } }).error?.type;
          if (type) brokerErrors.push(type);
        },
      });
      const consumer = kafka.consumer({ groupId: `${prefix}${groupSuffix}`, retry: { retries: 0 } });
      consumers.push(consumer);
      let joined = false;
      let crashed: string | undefined;
      consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
      consumer.on(consumer.events.CRASH, (event) => {
        const e = event.payload.error as KafkaJSError & { type?: string };
        crashed = brokerErrors.find((t) => t.endsWith('_AUTHORIZATION_FAILED')) ?? e.type ?? e.name;
      });
      const outcome = await refusal(async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic(base)], fromBeginning: true });
        await consumer.run({ eachMessage: async () => undefined });
      });
      if (outcome !== 'allowed') return outcome;
      await waitUntil(() => joined || crashed !== undefined, 30_000, 'the consumer to join or fail');
      return crashed ?? 'allowed';
    }

    it('billing reads metering events, which it subscribes to, in its own group', async () => {
      expect(await consume('billing', 'billing-acl-usage', Topics.meteringEvents)).toBe('allowed');
    });

    it('billing may not read telemetry, which it does not subscribe to', async () => {
      expect(await consume('billing', 'billing-acl-telemetry', Topics.meteringTelemetry)).toBe(
        'TOPIC_AUTHORIZATION_FAILED',
      );
    });

    it("billing may not use another service's consumer group", async () => {
      expect(await consume('billing', 'metering-placements', Topics.meteringEvents)).toBe(
        'GROUP_AUTHORIZATION_FAILED',
      );
    });
  });
});
