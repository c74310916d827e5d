import { Kafka, Partitioners } from 'kafkajs';
import { watermarkStreamPrefix } from '@fleetledger/contracts';

/**
 * Issue #22, producers' watermarks (libs/contracts/src/progress.ts): a producer appends one marker per
 * partition of its events topic to its own log, and the outbox relay publishes them like any other
 * event. This file only knows how to reach a partition through a key; what a watermark means is each
 * service's domain (apps/allocation/src/domain/watermark.ts, apps/metering/src/domain/closing.ts).
 *
 * One stream id per partition of a topic with `partitions` partitions, each a key that the producer's
 * partitioner (kafkajs' default: murmur2 as the Java client) sends to that partition. The outbox relay
 * publishes every event with its stream id as the key, so a marker appended on `ids[p]` lands on
 * partition p, in order after everything appended before it, without the relay knowing about
 * partitions. Deterministic: the same topic size gives the same ids on every replica and restart.
 * (Kafka can add partitions to a topic: the heartbeat re-reads the count and the new ids follow.)
 */
export function partitionStreamIds(producer: string, partitions: number): string[] {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
    offlineReplicas: [],
  }));
  return Array.from({ length: partitions }, (_, partition) => {
    const base = watermarkStreamPrefix(producer, partition);
    for (let attempt = 0; ; attempt++) {
      const key = attempt === 0 ? base : `${base}-${attempt}`;
      if (partitioner({ topic: 'watermark', partitionMetadata, message: { key, value: null } }) === partition)
        return key;
    }
  });
}

/**
 * The partition count of a topic, from the broker (for `partitionStreamIds`). A topic created a moment ago (a
 * service's own, at start) can be unknown to the broker answering the metadata request for a short while
 * (UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition"): that is retried, bounded
 * (`attempts` x `delayMs`, 10 s by default), before the error reaches the caller.
 */
export async function topicPartitionCount(
  kafka: Kafka,
  topic: string,
  { attempts = 40, delayMs = 250 }: { attempts?: number; delayMs?: number } = {},
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = metadata.topics[0]?.partitions.length ?? 0;
        if (partitions === 0) throw new Error(`topic ${topic} has no partitions`);
        return partitions;
      } catch (error) {
        const unknownYet =
          (error as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION' ||
          /has no partitions/.test((error as Error).message);
        if (!unknownYet || attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  } finally {
    await admin.disconnect();
  }
}
