import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';

/**
 * A fresh broker creates its coordinators' internal topics on first use, and answers "the coordinator is
 * loading" until then. Global setup does that first use once (an idempotent producer id, a consumer group
 * that reads a message), so the first test file does not pay for it in retries and error logs.
 * Plain kafkajs on purpose: global setup runs without jest's module aliases.
 */
export async function warmUpKafka(
  brokers: string[],
  superUser?: { username: string; password: string },
  timeoutMs = 60_000,
): Promise<void> {
  const kafka = new Kafka({
    clientId: 'fleetledger-warm-up',
    brokers,
    logLevel: logLevel.NOTHING,
    ...(superUser ? { sasl: { mechanism: 'scram-sha-512' as const, ...superUser } } : {}),
  });
  const suffix = randomBytes(4).toString('hex');
  const topic = `warm-up-${suffix}`;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'warm-up' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({
      groupId: `warm-up-${suffix}`,
      retry: { retries: 30, initialRetryTime: 100 },
    });
    let consumed = false;
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async () => void (consumed = true) });
    const deadline = Date.now() + timeoutMs;
    while (!consumed) {
      if (Date.now() > deadline) throw new Error(`Kafka warm-up: no message consumed within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await consumer.disconnect();
    await admin.deleteTopics({ topics: [topic] });
  } finally {
    await admin.disconnect();
  }
}
