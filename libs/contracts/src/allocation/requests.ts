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

/**
 * Why allocation refuses a command outright (nothing decided, nothing written): the codes of its error
 * taxonomy (apps/allocation/src/allocation-errors.ts), in the HTTP error body and in Kafka replies.
 */
export const COMMAND_REJECTION_REASONS = [
  'unknown-lease',
  'not-placed',
  'unknown-workload',
  'not-queued',
  'stale-command',
  'duplicate',
  'exclusive-overlap',
  'wrong-status',
  'unchanged',
  'beyond-fleet',
  'beyond-scope',
  'invalid',
  /** A GPU class or workload class in a path that the contracts do not know. */
  'unknown-class',
] as const;
export const commandRejectionReasonSchema = z.enum(COMMAND_REJECTION_REASONS);
export type CommandRejectionReason = z.infer<typeof commandRejectionReasonSchema>;

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
    /** A placement decision's reason (queued or rejected), or why the command was refused (rejected). */
    reason: z.union([rejectionReasonSchema, commandRejectionReasonSchema]),
    detail: z.string(),
  }),
]);
export type PlaceReply = z.infer<typeof placeReplySchema>;

export const releaseReplySchema = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('released'), workloadId: z.string(), placementId: z.string() }),
  z.object({
    outcome: z.literal('not-placed'),
    workloadId: z.string(),
    /** Why nothing was released (absent in replies sent before it existed). */
    reason: commandRejectionReasonSchema.optional(),
    detail: z.string(),
  }),
]);
export type ReleaseReply = z.infer<typeof releaseReplySchema>;
