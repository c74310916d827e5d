import { Currency } from './invoice-lines';
import { commitmentSegments, LeaseTerms, termEndsWithin } from './leases';
import { periodBounds } from './periods';
import { planInEffect, RatePlanVersion } from './rate-plans';
import { invoiceIdFor, termEndInvoiceIdFor } from './rating';

/**
 * Month close: every month of a lease term with a commitment has an invoice, whether or not any usage arrived.
 * Usage opens invoices as it is rated; the close opens the rest from the lease schedule (billing's view of the
 * leases), so a tenant that committed and ran nothing is billed its minimum.
 *
 * Which invoice a committed lease's month belongs on is the rule rating uses: the lease's term-end invoice in the
 * month its term (as signed or amended) ends in, otherwise the tenant's monthly invoice. An early termination
 * ends the commitment (months after it owe nothing); an amendment's commitment counts from its `effectiveAt`.
 */

export interface InvoiceDue {
  invoiceId: string;
  tenantId: string;
  period: string;
  currency: Currency;
  /** The committed leases this invoice bills for the month. */
  leaseIds: string[];
}

export type MonthCloseSkip = {
  leaseId: string;
  reason: 'no-rate-plan-in-effect' | 'currency-mismatch';
  detail: string;
};

export type MonthCloseRejection = {
  kind: 'rejected';
  reason: 'period-not-ended';
  detail: string;
};

/** True when the lease commits anything (GPUs of a class, or money through its plan) for some second of the month. */
export function commitsInMonth(
  lease: LeaseTerms,
  period: string,
  planVersions: (ratePlanId: string) => readonly RatePlanVersion[],
): boolean {
  return commitmentSegments(lease, periodBounds(period)).some(
    (segment) =>
      Object.values(segment.committedGpus).some((gpus) => (gpus ?? 0) > 0) ||
      BigInt(planInEffect(planVersions(segment.ratePlanId), segment.startMs)?.monthlyCommitmentMinor ?? '0') >
        0n,
  );
}

/**
 * The invoices the month owes for commitments, one per tenant (monthly) plus one per lease whose term ends
 * inside the month. Deterministic: leases and invoices in id order. A lease whose plan is not in effect cannot
 * be billed yet and is reported, not dropped.
 */
export function invoicesDueForMonth(
  leases: readonly LeaseTerms[],
  planVersions: (ratePlanId: string) => readonly RatePlanVersion[],
  period: string,
): { due: InvoiceDue[]; skipped: MonthCloseSkip[] } {
  const bounds = periodBounds(period);
  const due = new Map<string, InvoiceDue>();
  const skipped: MonthCloseSkip[] = [];
  const sorted = [...leases].sort((a, b) => (a.leaseId < b.leaseId ? -1 : a.leaseId > b.leaseId ? 1 : 0));
  for (const lease of sorted) {
    if (!commitsInMonth(lease, period, planVersions)) continue;
    const first = commitmentSegments(lease, bounds)[0];
    const plan = planInEffect(planVersions(first.ratePlanId), first.startMs);
    if (!plan) {
      skipped.push({
        leaseId: lease.leaseId,
        reason: 'no-rate-plan-in-effect',
        detail: `plan ${first.ratePlanId} has no version in effect on ${new Date(first.startMs).toISOString()}`,
      });
      continue;
    }
    const invoiceId = termEndsWithin(lease, bounds)
      ? termEndInvoiceIdFor(lease.tenantId, period, lease.leaseId)
      : invoiceIdFor(lease.tenantId, period);
    const existing = due.get(invoiceId);
    if (existing && existing.currency.code !== plan.currency.code) {
      skipped.push({
        leaseId: lease.leaseId,
        reason: 'currency-mismatch',
        detail: `invoice ${invoiceId} is in ${existing.currency.code}, lease ${lease.leaseId}'s plan in ${plan.currency.code}`,
      });
      continue;
    }
    if (existing) existing.leaseIds.push(lease.leaseId);
    else
      due.set(invoiceId, {
        invoiceId,
        tenantId: lease.tenantId,
        period,
        currency: plan.currency,
        leaseIds: [lease.leaseId],
      });
  }
  return {
    due: [...due.values()].sort((a, b) =>
      a.invoiceId < b.invoiceId ? -1 : a.invoiceId > b.invoiceId ? 1 : 0,
    ),
    skipped,
  };
}

/** A month is closed once it is over: closing an open month would bill a commitment before its term has run. */
export function checkMonthEnded(period: string, closedAt: string): MonthCloseRejection | undefined {
  const { endMs } = periodBounds(period);
  if (Date.parse(closedAt) >= endMs) return undefined;
  return {
    kind: 'rejected',
    reason: 'period-not-ended',
    detail: `${period} ends ${new Date(endMs).toISOString()}; it cannot be closed at ${closedAt}`,
  };
}
