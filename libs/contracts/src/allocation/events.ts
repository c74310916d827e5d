import { z } from 'zod';
import { defineEvent, EventOf, eventGuard, PayloadOf } from '../event-definition';
import { gpuClasses, gpuClassSchema } from '../inventory/fleet';

/**
 * Allocation contracts: leases, quotas, routing policy and the workload lifecycle.
 *
 * Streams (the Kafka key of every event is its stream id):
 *   - `lease-book`          every lease event (one stream so "no overlapping exclusive leases" and
 *                           "no commitments beyond the fleet" are checked against a consistent book);
 *   - `quota-<tenantId>`    QuotaChanged of one tenant;
 *   - `routing-policy`      RoutingPolicyChanged;
 *   - `placement-ledger`    the whole workload lifecycle. One ledger stream, so an expected stream
 *                           version makes two concurrent placements of the same GPU impossible and
 *                           consumers see placements and releases in decision order.
 *
 * Metering builds GPU -> (lease, tenant) intervals from WorkloadPlaced (opens one interval per GPU,
 * keyed by `placementId`) and WorkloadReleased / WorkloadPreempted / WorkloadEvicted (close every GPU
 * of that `placementId`). Every closing event repeats tenant, lease, class and GPU ids so it can be
 * read on its own.
 */

// GPU classes are the fleet's vocabulary, owned by the inventory contracts.
export { gpuClassSchema };
export type { GpuClass } from '../inventory/fleet';
export const GPU_CLASSES = gpuClasses;

export const WORKLOAD_CLASSES = ['inference', 'agentic', 'training'] as const;
export const workloadClassSchema = z.enum(WORKLOAD_CLASSES);
export type WorkloadClass = z.infer<typeof workloadClassSchema>;

export const AllocationStreams = {
  leaseBook: 'lease-book',
  routingPolicy: 'routing-policy',
  placementLedger: 'placement-ledger',
  quota: (tenantId: string) => `quota-${tenantId}`,
} as const;

const isoInstant = z.iso.datetime({ offset: true });
const id = z.string().min(1).max(200);
const gpuCount = z.number().int().nonnegative();
const author = z.string().min(1).max(200);
const reason = z.string().min(1).max(2000);

export const termSchema = z
  .object({ start: isoInstant, end: isoInstant })
  .refine(
    (term) => Date.parse(term.start) < Date.parse(term.end),
    'term.start must be before term.end (the term is [start, end))',
  );
export type LeaseTerm = z.infer<typeof termSchema>;

/** GPUs committed per class; absent classes commit nothing. */
export const committedGpusSchema = z.partialRecord(gpuClassSchema, gpuCount);
export type CommittedGpus = z.infer<typeof committedGpusSchema>;

export const exclusivitySchema = z.enum(['exclusive', 'shared']);
export type Exclusivity = z.infer<typeof exclusivitySchema>;

/**
 * The capacity an exclusive lease fences off: every rack listed and every rack of every hall listed.
 * No other tenant is placed there while the lease is active. Empty for shared leases.
 */
export const leaseScopeSchema = z.object({
  hallIds: z.array(id).default([]),
  rackIds: z.array(id).default([]),
});
export type LeaseScope = z.infer<typeof leaseScopeSchema>;

export const LeaseSigned = defineEvent({
  type: 'allocation.LeaseSigned',
  schema: z.object({
    leaseId: id,
    tenantId: id,
    term: termSchema,
    committedGpus: committedGpusSchema,
    exclusivity: exclusivitySchema,
    scope: leaseScopeSchema.default({ hallIds: [], rackIds: [] }),
    /** Reference to the price terms in billing. */
    ratePlanId: id,
    signedAt: isoInstant,
    author,
  }),
});

export const LeaseActivated = defineEvent({
  type: 'allocation.LeaseActivated',
  schema: z.object({ leaseId: id, tenantId: id, activatedAt: isoInstant, author }),
});

/** The lease as it stands after the amendment (full values), effective from `effectiveAt`. */
export const LeaseAmended = defineEvent({
  type: 'allocation.LeaseAmended',
  schema: z.object({
    leaseId: id,
    tenantId: id,
    term: termSchema,
    committedGpus: committedGpusSchema,
    scope: leaseScopeSchema,
    ratePlanId: id,
    previous: z.object({ term: termSchema, committedGpus: committedGpusSchema, ratePlanId: id }),
    effectiveAt: isoInstant,
    reason,
    author,
  }),
});

export const LeaseTerminated = defineEvent({
  type: 'allocation.LeaseTerminated',
  schema: z.object({ leaseId: id, tenantId: id, terminatedAt: isoInstant, reason, author }),
});

/**
 * The lease's term ended (`termEnd` <= `expiredAt`): recorded by the "expire due leases" sweep at
 * `expiredAt`. The lease places nothing from `termEnd` on (with or without this event); this event
 * lifts its fence in the allocation state and is followed on `placement-ledger` by a
 * WorkloadEvicted (cause `lease-ended`) for each placement it still held.
 */
export const LeaseExpired = defineEvent({
  type: 'allocation.LeaseExpired',
  schema: z.object({ leaseId: id, tenantId: id, termEnd: isoInstant, expiredAt: isoInstant, author }),
});

export const quotaChangeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('set') }),
  /** "limits doubled" is { kind: 'multiply', factor: 2 }; results are rounded down to whole GPUs. */
  z.object({ kind: z.literal('multiply'), factor: z.number().positive().max(1_000) }),
]);
export type QuotaChange = z.infer<typeof quotaChangeSchema>;

/** Quotas are in GPUs, per tenant x GPU class x workload class. */
export const QuotaChanged = defineEvent({
  type: 'allocation.QuotaChanged',
  schema: z.object({
    tenantId: id,
    gpuClass: gpuClassSchema,
    workloadClass: workloadClassSchema,
    /** GPUs the tenant may always run (and that preempt borrowed work of others). */
    nominal: gpuCount,
    /** GPUs beyond nominal the tenant may borrow from idle capacity of its lease; preemptible. */
    borrowLimit: gpuCount,
    previous: z.object({ nominal: gpuCount, borrowLimit: gpuCount }),
    change: quotaChangeSchema,
    changedAt: isoInstant,
    reason,
    author,
  }),
});

export const routesSchema = z.record(workloadClassSchema, z.array(gpuClassSchema).min(1));
export type Routes = z.infer<typeof routesSchema>;

export const RoutingPolicyChanged = defineEvent({
  type: 'allocation.RoutingPolicyChanged',
  schema: z.object({ routes: routesSchema, previous: routesSchema, changedAt: isoInstant, reason, author }),
});

export const topologySchema = z.enum(['any', 'same-node', 'same-nvlink-domain', 'same-rack']);
export type Topology = z.infer<typeof topologySchema>;

export const workloadRequestSchema = z.object({
  workloadId: id,
  tenantId: id,
  /** Optional: place under this lease; otherwise the tenant's active lease of the routed class. */
  leaseId: id.optional(),
  workloadClass: workloadClassSchema,
  gpuCount: z.number().int().positive().max(100_000),
  /** All-or-nothing and kept together (NVLink domain / whole nodes, fewest racks). */
  gang: z.boolean(),
  topology: topologySchema.default('any'),
  /** Higher runs first and may preempt lower-priority work of the same tenant. */
  priority: z.number().int().min(0).max(1_000),
});
export type WorkloadRequest = z.infer<typeof workloadRequestSchema>;

export const WorkloadSubmitted = defineEvent({
  type: 'allocation.WorkloadSubmitted',
  schema: workloadRequestSchema.extend({ submittedAt: isoInstant }),
});

export const WorkloadPlaced = defineEvent({
  type: 'allocation.WorkloadPlaced',
  schema: z.object({
    workloadId: id,
    /** Unique per placement: a workload evicted and placed again gets a new one. */
    placementId: id,
    tenantId: id,
    leaseId: id,
    workloadClass: workloadClassSchema,
    gpuClass: gpuClassSchema,
    gpuIds: z.array(id).min(1),
    nodeIds: z.array(id).min(1),
    rackIds: z.array(id).min(1),
    priority: z.number().int(),
    /** True when the placement runs on borrowed quota (beyond nominal) and may be reclaimed. */
    borrowed: z.boolean(),
    placedAt: isoInstant,
    /**
     * Why this GPU class (optional: absent on placements recorded before it existed). `requestedClass`
     * is the first class the routing policy lists for the workload class; `reason` is `first choice`
     * or `fallback: <why each earlier class could not take it>` (e.g. `fallback: GB200 full`).
     */
    routing: z.object({ requestedClass: gpuClassSchema, reason: z.string().max(2000) }).optional(),
  }),
});

export const REJECTION_REASONS = [
  'quota',
  'capacity',
  /** Recorded before issue #15; new decisions say `power-headroom`. */
  'power',
  /** A site, hall or rack budget has no headroom for the GPUs' draw (the detail names which). */
  'power-headroom',
  'topology',
  'no-lease',
  /** The tenant's lease for the routed classes ended (term over); a new or amended lease is needed. */
  'lease-expired',
  'lease-exclusive',
  'routing',
  'duplicate',
  'invalid',
] as const;
export const rejectionReasonSchema = z.enum(REJECTION_REASONS);
export type RejectionReason = z.infer<typeof rejectionReasonSchema>;

/** Could not be placed now but may be later (capacity, power-headroom, topology, lease-exclusive, quota); re-driven by every change that can change the answer. */
export const WorkloadQueued = defineEvent({
  type: 'allocation.WorkloadQueued',
  schema: z.object({
    workloadId: id,
    tenantId: id,
    workloadClass: workloadClassSchema,
    gpuCount: z.number().int().positive(),
    priority: z.number().int(),
    reason: rejectionReasonSchema,
    detail: z.string(),
    queuedAt: isoInstant,
  }),
});

export const WorkloadRejected = defineEvent({
  type: 'allocation.WorkloadRejected',
  schema: z.object({
    workloadId: id,
    tenantId: id,
    workloadClass: workloadClassSchema,
    reason: rejectionReasonSchema,
    detail: z.string(),
    rejectedAt: isoInstant,
  }),
});

const placementEnd = {
  workloadId: id,
  placementId: id,
  tenantId: id,
  leaseId: id,
  gpuClass: gpuClassSchema,
  gpuIds: z.array(id).min(1),
};

export const WorkloadReleased = defineEvent({
  type: 'allocation.WorkloadReleased',
  schema: z.object({ ...placementEnd, releasedAt: isoInstant }),
});

export const WorkloadPreempted = defineEvent({
  type: 'allocation.WorkloadPreempted',
  schema: z.object({
    ...placementEnd,
    preemptedAt: isoInstant,
    /** The workload that needed the GPUs. */
    preemptedBy: id,
    cause: z.enum(['priority', 'borrowed-reclaimed']),
  }),
});

/** A queued workload taken off the queue by its owner (a placed one is released instead). */
export const WorkloadWithdrawn = defineEvent({
  type: 'allocation.WorkloadWithdrawn',
  schema: z.object({
    workloadId: id,
    tenantId: id,
    workloadClass: workloadClassSchema,
    withdrawnAt: isoInstant,
    reason: reason.optional(),
  }),
});

export const WorkloadEvicted = defineEvent({
  type: 'allocation.WorkloadEvicted',
  schema: z.object({
    ...placementEnd,
    evictedAt: isoInstant,
    /** `lease-ended`: the lease expired or was terminated (no GPU caused it: affectedGpuIds is empty). */
    cause: z.enum(['gpu-failed', 'gpu-draining', 'gpu-decommissioned', 'lease-ended']),
    /** The GPUs whose state caused the eviction (a subset of gpuIds). */
    affectedGpuIds: z.array(id),
  }),
});

export type LeaseSignedPayload = PayloadOf<typeof LeaseSigned>;
export type LeaseActivatedPayload = PayloadOf<typeof LeaseActivated>;
export type LeaseAmendedPayload = PayloadOf<typeof LeaseAmended>;
export type LeaseTerminatedPayload = PayloadOf<typeof LeaseTerminated>;
export type LeaseExpiredPayload = PayloadOf<typeof LeaseExpired>;
export type QuotaChangedPayload = PayloadOf<typeof QuotaChanged>;
export type RoutingPolicyChangedPayload = PayloadOf<typeof RoutingPolicyChanged>;
export type WorkloadSubmittedPayload = PayloadOf<typeof WorkloadSubmitted>;
export type WorkloadPlacedPayload = PayloadOf<typeof WorkloadPlaced>;
export type WorkloadQueuedPayload = PayloadOf<typeof WorkloadQueued>;
export type WorkloadRejectedPayload = PayloadOf<typeof WorkloadRejected>;
export type WorkloadReleasedPayload = PayloadOf<typeof WorkloadReleased>;
export type WorkloadPreemptedPayload = PayloadOf<typeof WorkloadPreempted>;
export type WorkloadEvictedPayload = PayloadOf<typeof WorkloadEvicted>;
export type WorkloadWithdrawnPayload = PayloadOf<typeof WorkloadWithdrawn>;

export const allAllocationEvents = [
  LeaseSigned,
  LeaseActivated,
  LeaseAmended,
  LeaseTerminated,
  LeaseExpired,
  QuotaChanged,
  RoutingPolicyChanged,
  WorkloadSubmitted,
  WorkloadPlaced,
  WorkloadQueued,
  WorkloadRejected,
  WorkloadReleased,
  WorkloadPreempted,
  WorkloadEvicted,
  WorkloadWithdrawn,
] as const;

/** A typed allocation event, discriminated by `type`. */
export type AllocationEvent = EventOf<(typeof allAllocationEvents)[number]>;
export type AllocationEventType = AllocationEvent['type'];
export const isAllocationEvent = eventGuard(allAllocationEvents);
