import { z } from 'zod';
import { gpuClassSchema, rejectionReasonSchema, workloadRequestSchema } from './events';

/**
 * Kafka request/reply of the allocation service (@nestjs/microservices MessagePattern).
 * The request topic is the pattern (with KAFKA_TOPIC_PREFIX); Nest replies on `<pattern>.reply`.
 */
export const AllocationPatterns = {
  place: 'allocation.place',
  release: 'allocation.release',
} as const;

const isoInstant = z.iso.datetime({ offset: true });

/** `requestedAt` is the decision time; the service stamps it on receipt when absent. */
export const placeRequestSchema = workloadRequestSchema.extend({ requestedAt: isoInstant.optional() });
export type PlaceRequest = z.infer<typeof placeRequestSchema>;

export const releaseRequestSchema = z.object({
  workloadId: z.string().min(1).max(200),
  requestedAt: isoInstant.optional(),
});
export type ReleaseRequest = z.infer<typeof releaseRequestSchema>;

export const placeReplySchema = z.discriminatedUnion('outcome', [
  z.object({
    outcome: z.literal('placed'),
    workloadId: z.string(),
    placementId: z.string(),
    leaseId: z.string(),
    gpuClass: gpuClassSchema,
    gpuIds: z.array(z.string()),
    nodeIds: z.array(z.string()),
    borrowed: z.boolean(),
    preempted: z.array(z.string()),
    /** The class the routing policy asked for first, and why this one was used. */
    requestedClass: gpuClassSchema.optional(),
    routingReason: z.string().optional(),
  }),
  z.object({
    outcome: z.enum(['queued', 'rejected']),
    workloadId: z.string(),
    reason: rejectionReasonSchema,
    detail: z.string(),
  }),
]);
export type PlaceReply = z.infer<typeof placeReplySchema>;

export const releaseReplySchema = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('released'), workloadId: z.string(), placementId: z.string() }),
  z.object({ outcome: z.literal('not-placed'), workloadId: z.string(), detail: z.string() }),
]);
export type ReleaseReply = z.infer<typeof releaseReplySchema>;
