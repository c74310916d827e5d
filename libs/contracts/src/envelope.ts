import { z } from 'zod';
import { Principal, principalSchema } from './principal';

/**
 * The envelope every event travels in, on the wire (Kafka, JSON) and in every event store.
 * See DESIGN.md section 3. `payload` is validated separately, against the schema of its type and version.
 */
export const eventEnvelopeSchema = z.object({
  eventId: z.uuid(),
  type: z.string().min(1),
  schemaVersion: z.number().int().positive(),
  streamId: z.string().min(1),
  streamVersion: z.number().int().positive(),
  globalPosition: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  recordedAt: z.iso.datetime({ offset: true }),
  tenantId: z.string().min(1).optional(),
  correlationId: z.string().min(1),
  causationId: z.string().min(1).optional(),
  /** Who caused it (absent only on events recorded before principals were). */
  principal: principalSchema.optional(),
  payload: z.unknown(),
});

export type RawEventEnvelope = z.infer<typeof eventEnvelopeSchema>;

export interface EventEnvelope<TType extends string = string, TPayload = unknown> {
  eventId: string;
  type: TType;
  schemaVersion: number;
  streamId: string;
  streamVersion: number;
  globalPosition: number;
  occurredAt: string;
  recordedAt: string;
  tenantId?: string;
  correlationId: string;
  causationId?: string;
  principal?: Principal;
  payload: TPayload;
}

/** Kafka headers carried next to every published event, so tooling can route without parsing the body. */
export const EventHeaders = {
  eventId: 'event-id',
  eventType: 'event-type',
  schemaVersion: 'schema-version',
  correlationId: 'correlation-id',
  causationId: 'causation-id',
} as const;

/** Headers added to a record moved to a dead-letter topic. */
export const DeadLetterHeaders = {
  reason: 'dlq-reason',
  detail: 'dlq-detail',
  originalTopic: 'dlq-original-topic',
  originalPartition: 'dlq-original-partition',
  originalOffset: 'dlq-original-offset',
  consumer: 'dlq-consumer',
  failedAt: 'dlq-failed-at',
} as const;
