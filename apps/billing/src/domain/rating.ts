import type { billing, metering } from '@fleetledger/contracts';
import { LeaseTerms, termEndsWithin } from './leases';
import { milliDecimalToIntegerString } from './money';
import { periodBounds, periodOf } from './periods';
import { classPrice, planInEffect, RatePlanVersion } from './rate-plans';

export type ChargeRated = billing.ChargeRatedPayload;

/** A consumed event with the id it travelled under: every charge names the events it came from. */
export interface SourceEvent<T> {
  eventId: string;
  payload: T;
}

export type RatingRejection = {
  kind: 'rejected';
  reason: 'no-rate-plan-in-effect' | 'gpu-class-not-priced';
  detail: string;
};

/** The tenant's invoice of a calendar month. */
export function invoiceIdFor(tenantId: string, period: string): string {
  return `${tenantId}.${period}`;
}

/** The invoice of one lease for the month its term ends in (`termEndsWithin`). */
export function termEndInvoiceIdFor(tenantId: string, period: string, leaseId: string): string {
  return `${tenantId}.${period}.${leaseId}`;
}

/** The lease a term-end invoice is for; undefined for a monthly invoice. */
export function termEndLeaseOf(invoiceId: string, tenantId: string, period: string): string | undefined {
  const monthly = invoiceIdFor(tenantId, period);
  return invoiceId.length > monthly.length && invoiceId.startsWith(`${monthly}.`)
    ? invoiceId.slice(monthly.length + 1)
    : undefined;
}

/** Where usage of a lease in an hour is billed: its term-end invoice in the month its term ends, else the monthly one. */
export function invoiceIdForUsage(
  lease: LeaseTerms | undefined,
  tenantId: string,
  leaseId: string,
  period: string,
): string {
  return lease && termEndsWithin(lease, periodBounds(period))
    ? termEndInvoiceIdFor(tenantId, period, leaseId)
    : invoiceIdFor(tenantId, period);
}

/**
 * Rates one closed usage hour: a gpu-usage charge for the allocated GPU-time and an energy charge for the
 * energy, each priced by the plan version in effect at the start of the hour. Charge ids derive from the
 * usage record id, so rating a redelivered event yields the same charges (the store then refuses duplicates).
 * Zero quantities produce no charge. With the lease, usage of the month its term ends in goes on its term-end
 * invoice (`invoiceIdForUsage`).
 */
export function rateUsage(
  usage: SourceEvent<metering.UsageRecordedPayload>,
  planVersions: readonly RatePlanVersion[],
  lease?: LeaseTerms,
): ChargeRated[] | RatingRejection {
  const { payload } = usage;
  return rateQuantities({
    lease,
    chargeIdPrefix: payload.usageRecordId,
    tenantId: payload.tenantId,
    leaseId: payload.leaseId,
    gpuClass: payload.gpuClass,
    hourStart: payload.hourStart,
    milliGpuSeconds: milliDecimalToIntegerString(payload.gpuSecondsAllocated),
    milliWh: milliDecimalToIntegerString(payload.energyWh),
    sourceEventIds: [usage.eventId],
    planVersions,
  });
}

/**
 * Rates a correction of a closed usage hour into adjusting charges (signed deltas) for the same hour and
 * price; the original charges are never touched. `period` is the usage hour's month: whether that invoice is
 * still open (charges join it) or finalized (a credit note follows) is the invoice's decision, not rating's.
 */
export function rateCorrection(
  correction: SourceEvent<metering.UsageCorrectedPayload>,
  planVersions: readonly RatePlanVersion[],
  lease?: LeaseTerms,
): ChargeRated[] | RatingRejection {
  const { payload } = correction;
  const charges = rateQuantities({
    lease,
    chargeIdPrefix: payload.usageCorrectionId,
    tenantId: payload.tenantId,
    leaseId: payload.leaseId,
    gpuClass: payload.gpuClass,
    hourStart: payload.hourStart,
    milliGpuSeconds: milliDecimalToIntegerString(payload.delta.gpuSecondsAllocated),
    milliWh: milliDecimalToIntegerString(payload.delta.energyWh),
    sourceEventIds: [correction.eventId],
    planVersions,
  });
  if (!Array.isArray(charges)) return charges;
  return charges.map((charge) => ({
    ...charge,
    adjustsChargeId: `${payload.usageRecordId}:${charge.kind}`,
  }));
}

interface QuantitiesToRate {
  /** Decides between the monthly and the term-end invoice; without it, the monthly one. */
  lease?: LeaseTerms;
  chargeIdPrefix: string;
  tenantId: string;
  leaseId: string;
  gpuClass: string;
  hourStart: string;
  /** Thousandths as canonical integer strings (no bigint per record: see money.ts). */
  milliGpuSeconds: string;
  milliWh: string;
  sourceEventIds: string[];
  planVersions: readonly RatePlanVersion[];
}

function rateQuantities(input: QuantitiesToRate): ChargeRated[] | RatingRejection {
  const hourStartMs = instantMs(input.hourStart);
  const plan = planInEffect(input.planVersions, hourStartMs);
  if (!plan) {
    return {
      kind: 'rejected',
      reason: 'no-rate-plan-in-effect',
      detail: `no rate plan version in effect at ${input.hourStart}`,
    };
  }
  const price = classPrice(plan, input.gpuClass);
  if (!price) {
    return {
      kind: 'rejected',
      reason: 'gpu-class-not-priced',
      detail: `rate plan ${plan.ratePlanId} v${plan.version} has no price for ${input.gpuClass}`,
    };
  }
  const period = monthOf(hourStartMs);
  const invoiceId = invoiceIdForUsage(input.lease, input.tenantId, input.leaseId, period);
  // Charges are built as literals, not spreads of a shared object: V8's object spread is far slower on the
  // hot path (millions of charges per month; see bench/billing).
  const charges: ChargeRated[] = [];
  if (input.milliGpuSeconds !== '0') {
    charges.push({
      chargeId: `${input.chargeIdPrefix}:gpu-usage`,
      invoiceId,
      tenantId: input.tenantId,
      leaseId: input.leaseId,
      period,
      kind: 'gpu-usage',
      gpuClass: input.gpuClass,
      usageHourStart: input.hourStart,
      quantity: input.milliGpuSeconds,
      quantityUnit: 'milli-gpu-second',
      unitPriceMicroMinor: price.pricePerGpuHourMicroMinor,
      overageUnitPriceMicroMinor: price.overagePricePerGpuHourMicroMinor,
      ratePlanId: plan.ratePlanId,
      ratePlanVersion: plan.version,
      currency: plan.currency,
      sourceEventIds: input.sourceEventIds,
    });
  }
  if (input.milliWh !== '0') {
    charges.push({
      chargeId: `${input.chargeIdPrefix}:energy`,
      invoiceId,
      tenantId: input.tenantId,
      leaseId: input.leaseId,
      period,
      kind: 'energy',
      gpuClass: input.gpuClass,
      usageHourStart: input.hourStart,
      quantity: input.milliWh,
      quantityUnit: 'milli-watt-hour',
      unitPriceMicroMinor: plan.energyPricePerKwhMicroMinor,
      ratePlanId: plan.ratePlanId,
      ratePlanVersion: plan.version,
      currency: plan.currency,
      sourceEventIds: input.sourceEventIds,
    });
  }
  return charges;
}

// Rating sees the same few hundred hour strings and one month over and over (a month of hourly records): parsing
// them once is most of what rating a record costs otherwise.
const parsedInstants = new Map<string, number>();
function instantMs(iso: string): number {
  let ms = parsedInstants.get(iso);
  if (ms === undefined) {
    if (parsedInstants.size >= 10_000) parsedInstants.clear();
    ms = Date.parse(iso);
    parsedInstants.set(iso, ms);
  }
  return ms;
}

let lastMonth = { startMs: 0, endMs: 0, period: '' };
function monthOf(instant: number): string {
  if (instant >= lastMonth.startMs && instant < lastMonth.endMs) return lastMonth.period;
  const period = periodOf(instant);
  lastMonth = { ...periodBounds(period), period };
  return period;
}
