import { z } from 'zod';
import { EventDefinition, NewEvent, newEvent } from './event-definition';

/**
 * Progress (watermarks) of a producer, issue #22. A watermark T on partition p of a topic says:
 * "every event with an effective time before T that this producer will ever publish to this
 * partition is already in it, before this marker". Kafka keeps a partition in order, so a consumer
 * that has handled the marker has handled all of them. The input's watermark is the minimum over
 * all `partitions` of the topic; a partition without a marker yet holds it at "unknown".
 *
 * Markers are ordinary events of the producer (appended to its hash-chained log, published by its
 * outbox relay, taken into every subscriber's inbox), so replay and audit see them like any other.
 */
export const watermarkPayloadSchema = z.object({
  /** Topic base name (no deployment prefix), e.g. `allocation.events.v1`. */
  topic: z.string().min(1),
  partition: z.number().int().nonnegative(),
  /** How many partitions the topic had when the marker was written (the consumer waits for all). */
  partitions: z.number().int().positive(),
  watermark: z.iso.datetime({ offset: true }),
  /**
   * What moved it: `decision` (the producer's own latest decision time), `heartbeat` (the wall clock
   * minus the producer's allowed command lateness, so an idle partition does not hold anyone back),
   * `operator` (declared complete by an operator, e.g. after a backfill of past events).
   */
  source: z.enum(['decision', 'heartbeat', 'operator']),
});
export type WatermarkPayload = z.infer<typeof watermarkPayloadSchema>;

/** Stream id of a producer's markers for one partition (its Kafka key routes it to that partition). */
export function watermarkStreamPrefix(producer: string, partition: number): string {
  return `${producer}-watermark-p${partition}`;
}

/**
 * A producer's markers for one watermark: one per partition of `topic` (its base name), each on the stream whose
 * key Kafka routes to that partition (`streamIds[p]`, libs/eventstore/src/watermark.ts `partitionStreamIds`),
 * stamped at the watermark. All of them go in one append, after every event decided before them. `definition`
 * is the producer's own marker event (allocation.PartitionWatermarkAdvanced, inventory.PartitionWatermarkAdvanced).
 */
export function watermarkMarkers(
  definition: EventDefinition<string, typeof watermarkPayloadSchema>,
  topic: string,
  advance: Pick<WatermarkPayload, 'watermark' | 'source'>,
  streamIds: readonly string[],
): { streamId: string; events: NewEvent[] }[] {
  return streamIds.map((streamId, partition) => ({
    streamId,
    events: [
      newEvent(definition, { topic, partition, partitions: streamIds.length, ...advance }, advance.watermark),
    ],
  }));
}

/** One partition's latest watermark marker, as a consumer of an input recorded it. */
export interface PartitionMark {
  partition: number;
  /** The topic's partition count the marker announced. */
  partitions: number;
  watermarkMs: number;
}

/**
 * An input's watermark: the minimum over partitions 0..n-1 (n: the largest count announced); null while a
 * partition has sent no marker yet (metering's closer and billing's completeness both read inputs this way).
 */
export function inputWatermarkMs(marks: readonly PartitionMark[]): number | null {
  if (marks.length === 0) return null;
  const partitions = Math.max(...marks.map((m) => m.partitions));
  const byPartition = new Map(marks.map((m) => [m.partition, m.watermarkMs]));
  let min = Number.POSITIVE_INFINITY;
  for (let p = 0; p < partitions; p++) {
    const mark = byPartition.get(p);
    if (mark === undefined) return null;
    min = Math.min(min, mark);
  }
  return min;
}
