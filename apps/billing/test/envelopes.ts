import { EventEnvelope, EventHeaders, inventory, metering, Topics } from '@fleetledger/contracts';
import { Producer } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';

let position = 0;

/** An envelope as another service would publish it. */
export function envelope<T>(
  type: string,
  streamId: string,
  payload: T,
  occurredAt: string,
  eventId = uuidv7(),
): EventEnvelope<string, T> {
  position += 1;
  return {
    eventId,
    type,
    schemaVersion: 1,
    streamId,
    streamVersion: position,
    globalPosition: position,
    occurredAt,
    recordedAt: occurredAt,
    correlationId: `corr-${eventId}`,
    payload,
  };
}

export async function publish(producer: Producer, topic: string, events: EventEnvelope[]): Promise<void> {
  await producer.send({
    topic,
    messages: events.map((event) => ({
      key: event.streamId,
      value: JSON.stringify(event),
      headers: {
        [EventHeaders.eventId]: event.eventId,
        [EventHeaders.eventType]: event.type,
        [EventHeaders.schemaVersion]: '1',
      },
    })),
  });
}

/** Metering's UsageWindowsClosed for each partition (issue #22): every hour before `closedBefore` is closed. */
export function meteringWatermarkEnvelopes(
  closedBefore: string,
  partitions: number,
): EventEnvelope<string, metering.UsageWindowsClosedPayload>[] {
  return Array.from({ length: partitions }, (_, partition) =>
    envelope<metering.UsageWindowsClosedPayload>(
      metering.UsageWindowsClosed.type,
      `metering-watermark-p${partition}`,
      {
        partition,
        partitions,
        closedBefore,
        previousClosedBefore: null,
        limitedBy: 'lateness',
        inputs: [{ input: 'placements', watermark: null, lagMs: null }],
        closedAt: closedBefore,
      },
      closedBefore,
    ),
  );
}

/** Inventory's PartitionWatermarkAdvanced for each partition (issue #22): every event before `watermark` is published. */
export function inventoryWatermarkEnvelopes(
  watermark: string,
  partitions: number,
): EventEnvelope<string, inventory.PartitionWatermarkAdvancedPayload>[] {
  return Array.from({ length: partitions }, (_, partition) =>
    envelope<inventory.PartitionWatermarkAdvancedPayload>(
      inventory.PartitionWatermarkAdvanced.type,
      `inventory-watermark-p${partition}`,
      { topic: Topics.inventoryEvents, partition, partitions, watermark, source: 'operator' },
      watermark,
    ),
  );
}
