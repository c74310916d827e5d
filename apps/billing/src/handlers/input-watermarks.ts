import { Queryable } from '@fleetledger/eventstore';

/** The inputs whose watermarks billing records (issue #22): metering's usage, inventory's health events. */
export type WatermarkInput = 'metering' | 'inventory';

/**
 * Records a producer's watermark marker for one partition in billing.input_watermarks, in the consumer's inbox
 * transaction (so everything before the marker on that partition is handled in this or an earlier one).
 * Never moves back.
 */
export async function recordInputWatermark(
  tx: Queryable,
  input: WatermarkInput,
  mark: { partition: number; partitions: number; watermark: string },
  eventId: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO billing.input_watermarks (input, partition, partitions, watermark, event_id)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (input, partition) DO UPDATE SET
       partitions = EXCLUDED.partitions, watermark = EXCLUDED.watermark, event_id = EXCLUDED.event_id
     WHERE billing.input_watermarks.watermark < EXCLUDED.watermark`,
    [input, mark.partition, mark.partitions, mark.watermark, eventId],
  );
}
