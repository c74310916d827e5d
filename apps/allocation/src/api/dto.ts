import { allocation } from '@fleetledger/contracts';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

/** Request bodies, validated at the edge. `at` is when the change takes effect; the service stamps now when absent. */
const at = z.iso.datetime({ offset: true }).optional();
const author = z.string().min(1).max(200);
const reason = z.string().min(1).max(2000);

export class SignLeaseDto extends createZodDto(
  z.object({
    leaseId: z.string().min(1).max(200),
    tenantId: z.string().min(1).max(200),
    term: allocation.termSchema,
    committedGpus: allocation.committedGpusSchema,
    exclusivity: allocation.exclusivitySchema,
    scope: allocation.leaseScopeSchema.default({ hallIds: [], rackIds: [] }),
    ratePlanId: z.string().min(1).max(200),
    author,
    at,
  }),
) {}
export class ActivateLeaseDto extends createZodDto(z.object({ author, at })) {}
export class AmendLeaseDto extends createZodDto(
  z.object({
    term: allocation.termSchema,
    committedGpus: allocation.committedGpusSchema,
    scope: allocation.leaseScopeSchema.optional(),
    ratePlanId: z.string().min(1).optional(),
    reason,
    author,
    at,
  }),
) {}
export class TerminateLeaseDto extends createZodDto(z.object({ reason, author, at })) {}
/** The expiry sweep: `at` is the instant leases are expired as of (now when absent). */
export class ExpireDueLeasesDto extends createZodDto(z.object({ author, at })) {}

export class ChangeQuotaDto extends createZodDto(
  z.object({
    change: z.discriminatedUnion('kind', [
      z.object({
        kind: z.literal('set'),
        nominal: z.number().int().min(0),
        borrowLimit: z.number().int().min(0),
      }),
      z.object({ kind: z.literal('multiply'), factor: z.number().positive().max(1000) }),
    ]),
    reason,
    author,
    at,
  }),
) {}
export class ChangeRoutesDto extends createZodDto(
  z.object({ routes: allocation.routesSchema, reason, author, at }),
) {}
export class PlaceDto extends createZodDto(allocation.placeRequestSchema) {}
export class ReleaseDto extends createZodDto(z.object({ requestedAt: at })) {}
export class WithdrawDto extends createZodDto(z.object({ requestedAt: at, reason: reason.optional() })) {}

/** Issue #22: an operator declares the placement ledger complete until `to` (never in the future). */
export class AdvanceWatermarkDto extends createZodDto(
  z.object({ to: z.iso.datetime({ offset: true }), reason: reason.optional() }),
) {}
