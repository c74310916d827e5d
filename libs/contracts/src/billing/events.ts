import { z } from 'zod';
import { defineEvent, EventOf, eventGuard, PayloadOf } from '../event-definition';
import {
  basisPointsSchema,
  billingPeriodSchema,
  currencySchema,
  microMinorPriceSchema,
  minorUnitsSchema,
  nonNegativeMinorUnitsSchema,
  quantitySchema,
} from './money';

/*
 * Billing events, all published on Topics.billingEvents.
 *
 * Streams:
 *   rate-plan-<ratePlanId>             RatePlanPublished (one event per plan version)
 *   invoice-<tenantId>-<YYYY-MM>       ChargeRated, InvoiceDrafted, CreditIssued, InvoiceFinalized, CreditNoteIssued
 *   invoice-numbers / credit-note-numbers  one event per number handed out, so numbers are gap-free (the stream
 *                                      version IS the number, guarded by optimistic concurrency)
 *
 * Rounding rule (one, everywhere): an invoice line's amount is quantity x unit price, computed exactly and rounded
 * ONCE to the currency's minor unit, half to even ("banker's rounding"). Charges carry quantities and prices, never
 * rounded amounts, so summing charges never accumulates rounding error.
 */

const isoInstant = z.iso.datetime({ offset: true });
const eventIds = z.array(z.string().min(1)).min(1);

export const gpuClassPriceSchema = z.object({
  gpuClass: z.string().min(1),
  /** Price of one GPU-hour within the lease's commitment. */
  pricePerGpuHourMicroMinor: microMinorPriceSchema,
  /** Price of one GPU-hour above the lease's committed GPU-hours for the month. */
  overagePricePerGpuHourMicroMinor: microMinorPriceSchema,
  /** Take-or-pay minimum per committed GPU per full calendar month; prorated by seconds at term start and end. */
  committedMonthlyFeePerGpuMinor: nonNegativeMinorUnitsSchema,
});

export const slaCreditTierSchema = z.object({
  /** The tier applies when availability is strictly below this share (9990 = 99.90 %). */
  availabilityBelowBasisPoints: basisPointsSchema,
  /** Credit as a share of the period's committed charges for that class: in-commitment usage plus any shortfall. */
  creditBasisPoints: basisPointsSchema,
});

export const RatePlanPublished = defineEvent({
  type: 'billing.RatePlanPublished',
  schema: z.object({
    ratePlanId: z.string().min(1),
    /** 1, 2, 3... per plan; a new version never edits an old one. */
    version: z.number().int().positive(),
    /** The version rates usage whose hour starts at or after this instant (until a later version takes effect). */
    effectiveFrom: isoInstant,
    currency: currencySchema,
    classes: z.array(gpuClassPriceSchema).min(1),
    energyPricePerKwhMicroMinor: microMinorPriceSchema,
    /**
     * Optional monetary commitment: minor units a lease on this plan commits to spend per full calendar month
     * across all GPU classes (prorated by seconds at term start and end), alongside any per-class GPU
     * commitment. Drawdown rule: apps/billing/README.md "Monetary commitments". Absent in versions published
     * before it existed: no monetary commitment (added as optional, so schemaVersion stays 1).
     */
    monthlyCommitmentMinor: nonNegativeMinorUnitsSchema.optional(),
    slaCreditTiers: z.array(slaCreditTierSchema),
    rounding: z.literal('half-even-per-line'),
  }),
});

export const chargeKindSchema = z.enum(['gpu-usage', 'energy']);
/** Quantities are integers in thousandths, matching metering's 3-decimal quantities exactly. */
export const quantityUnitSchema = z.enum(['milli-gpu-second', 'milli-watt-hour']);

export const ChargeRated = defineEvent({
  type: 'billing.ChargeRated',
  schema: z.object({
    /** Deterministic from the source event, so a redelivered usage event rates to the same id. */
    chargeId: z.string().min(1),
    invoiceId: z.string().min(1),
    tenantId: z.string().min(1),
    leaseId: z.string().min(1),
    period: billingPeriodSchema,
    kind: chargeKindSchema,
    gpuClass: z.string().min(1).optional(),
    /** Start of the usage hour this charge is for. */
    usageHourStart: isoInstant,
    /** Negative in an adjusting charge that lowers an earlier one. */
    quantity: quantitySchema,
    quantityUnit: quantityUnitSchema,
    unitPriceMicroMinor: microMinorPriceSchema,
    /** Only for gpu-usage: the price for GPU-hours above the commitment. */
    overageUnitPriceMicroMinor: microMinorPriceSchema.optional(),
    ratePlanId: z.string().min(1),
    ratePlanVersion: z.number().int().positive(),
    currency: currencySchema,
    /** Set on an adjusting charge: the charge it corrects. Charges are never edited. */
    adjustsChargeId: z.string().min(1).optional(),
    sourceEventIds: eventIds,
  }),
});

export const InvoiceDrafted = defineEvent({
  type: 'billing.InvoiceDrafted',
  schema: z.object({
    invoiceId: z.string().min(1),
    tenantId: z.string().min(1),
    period: billingPeriodSchema,
    currency: currencySchema,
  }),
});

/** 'adjustment' is a credit granted by hand on a credit note (goodwill, dispute), with its reason on the note. */
export const invoiceLineKindSchema = z.enum([
  'gpu-usage',
  'gpu-overage',
  'energy',
  'commitment-shortfall',
  'sla-credit',
  'adjustment',
]);

export const invoiceLineSchema = z.object({
  lineId: z.string().min(1),
  leaseId: z.string().min(1),
  kind: invoiceLineKindSchema,
  gpuClass: z.string().min(1).optional(),
  quantity: quantitySchema,
  /** Usage lines in thousandths; commitment lines in seconds of the term within the period; SLA lines in basis points. */
  quantityUnit: z.enum(['milli-gpu-second', 'milli-watt-hour', 'second', 'basis-point', 'each']),
  unitPriceMicroMinor: microMinorPriceSchema.optional(),
  /** Rounded once, half to even. Negative for credits. */
  amountMinor: minorUnitsSchema,
  /** Every event this line's amount came from. */
  sourceEventIds: eventIds,
});

export const CreditIssued = defineEvent({
  type: 'billing.CreditIssued',
  schema: z.object({
    creditId: z.string().min(1),
    invoiceId: z.string().min(1),
    tenantId: z.string().min(1),
    leaseId: z.string().min(1),
    gpuClass: z.string().min(1),
    period: billingPeriodSchema,
    reason: z.literal('sla-availability'),
    availabilityBasisPoints: basisPointsSchema,
    creditBasisPoints: basisPointsSchema,
    /** Positive: the amount credited to the tenant. */
    amountMinor: nonNegativeMinorUnitsSchema,
    currency: currencySchema,
    sourceEventIds: eventIds,
  }),
});

export const InvoiceFinalized = defineEvent({
  type: 'billing.InvoiceFinalized',
  schema: z.object({
    invoiceId: z.string().min(1),
    /** Gap-free sequence over all invoices of this billing entity: 1, 2, 3... */
    invoiceNumber: z.number().int().positive(),
    tenantId: z.string().min(1),
    period: billingPeriodSchema,
    currency: currencySchema,
    lines: z.array(invoiceLineSchema),
    totalMinor: minorUnitsSchema,
    finalizedAt: isoInstant,
    /**
     * The lease events (signed, amended, terminated) billing's view of the invoice's leases was folded from when
     * it was finalized: exactly the lease terms that priced it, for the audit's lineage. Absent on invoices
     * finalized before it existed (added as optional, so schemaVersion stays 1).
     */
    leaseEventIds: z.array(z.string().min(1)).optional(),
  }),
});

export const CreditNoteIssued = defineEvent({
  type: 'billing.CreditNoteIssued',
  schema: z.object({
    creditNoteId: z.string().min(1),
    /** Gap-free sequence over all credit notes, separate from invoice numbers. */
    creditNoteNumber: z.number().int().positive(),
    invoiceId: z.string().min(1),
    invoiceNumber: z.number().int().positive(),
    tenantId: z.string().min(1),
    period: billingPeriodSchema,
    currency: currencySchema,
    reason: z.string().min(1),
    /** Lines with negative amounts: what is credited back. */
    lines: z.array(invoiceLineSchema).min(1),
    /** Negative: the total credited. */
    totalMinor: minorUnitsSchema,
    /** Adjusting charges (from usage corrections) this note settles; empty for a credit granted by hand. */
    adjustingCharges: z.array(ChargeRated.schema),
    issuedAt: isoInstant,
    sourceEventIds: eventIds,
  }),
});

/**
 * A correction of usage on a final invoice that changes no amount (a take-or-pay minimum absorbs it). Recorded
 * so that later corrections are computed against everything that happened, and so it is visible in the log.
 */
export const CorrectionAbsorbed = defineEvent({
  type: 'billing.CorrectionAbsorbed',
  schema: z.object({
    invoiceId: z.string().min(1),
    invoiceNumber: z.number().int().positive(),
    tenantId: z.string().min(1),
    period: billingPeriodSchema,
    adjustingCharges: z.array(ChargeRated.schema).min(1),
    /** How the amounts moved between lines (e.g. usage down, shortfall up); they sum to zero. */
    lines: z.array(invoiceLineSchema),
    absorbedAt: isoInstant,
    sourceEventIds: eventIds,
  }),
});

/** One event per invoice / credit-note number handed out; the stream version is the number. */
export const DocumentNumberAssigned = defineEvent({
  type: 'billing.DocumentNumberAssigned',
  schema: z.object({
    series: z.enum(['invoice', 'credit-note']),
    number: z.number().int().positive(),
    documentId: z.string().min(1),
  }),
});

export type RatePlanPublishedPayload = PayloadOf<typeof RatePlanPublished>;
export type ChargeRatedPayload = PayloadOf<typeof ChargeRated>;
export type InvoiceDraftedPayload = PayloadOf<typeof InvoiceDrafted>;
export type InvoiceLine = z.infer<typeof invoiceLineSchema>;
export type InvoiceLineKind = z.infer<typeof invoiceLineKindSchema>;
export type CreditIssuedPayload = PayloadOf<typeof CreditIssued>;
export type InvoiceFinalizedPayload = PayloadOf<typeof InvoiceFinalized>;
export type CreditNoteIssuedPayload = PayloadOf<typeof CreditNoteIssued>;
export type CorrectionAbsorbedPayload = PayloadOf<typeof CorrectionAbsorbed>;
export type DocumentNumberAssignedPayload = PayloadOf<typeof DocumentNumberAssigned>;

export const allBillingEvents = [
  RatePlanPublished,
  ChargeRated,
  InvoiceDrafted,
  CreditIssued,
  InvoiceFinalized,
  CreditNoteIssued,
  CorrectionAbsorbed,
  DocumentNumberAssigned,
] as const;

/** A typed billing event, discriminated by `type`. */
export type BillingEvent = EventOf<(typeof allBillingEvents)[number]>;
export const isBillingEvent = eventGuard(allBillingEvents);
