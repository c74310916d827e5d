import { Injectable } from '@nestjs/common';
import { ident, retryOnConflict, runInTransaction } from '@fleetledger/eventstore';
import { DataSource } from 'typeorm';
import { v5 as uuidv5 } from 'uuid';
import { billingError } from '../billing-errors';
import { decideInvoice } from '../domain/invoice';
import { LeaseTerms, ratePlanIdsOf } from '../domain/leases';
import { checkMonthEnded, invoicesDueForMonth, MonthCloseSkip } from '../domain/month-close';
import { RatePlanVersion } from '../domain/rate-plans';
import { AppendMeta, BillingStore, invoiceStreamId } from './billing-store';

/** Namespace of month close's deterministic event ids (uuid v5 of `invoice-opened:<invoiceId>`). */
const MONTH_CLOSE_NAMESPACE = '5b1f3c1e-7a0e-4f5e-9a38-2f0d6c0b9e11';

export interface MonthCloseResult {
  period: string;
  invoices: {
    invoiceId: string;
    tenantId: string;
    leaseIds: string[];
    /** True when this call drafted it; false when it existed (opened by usage or an earlier close). */
    opened: boolean;
    status: 'draft' | 'finalized';
  }[];
  skipped: MonthCloseSkip[];
}

/**
 * Month close: drafts the invoice of every month a commitment is owed in (domain/month-close.ts). Idempotent:
 * an invoice that exists is left alone, and the draft's event id is derived from the invoice id, so a repeated
 * or concurrent close (a scheduler retrying) writes each draft once.
 */
@Injectable()
export class MonthCloseHandler {
  constructor(
    private readonly dataSource: DataSource,
    private readonly billing: BillingStore,
  ) {}

  async close(
    period: string,
    closedAt: string,
    tenantId: string | undefined,
    meta: AppendMeta,
  ): Promise<MonthCloseResult> {
    const notEnded = checkMonthEnded(period, closedAt);
    if (notEnded) throw billingError(notEnded);
    const s = ident(this.billing.store.schema);
    const leases = (
      await this.dataSource.query<{ terms: LeaseTerms }[]>(
        `SELECT terms FROM ${s}.leases WHERE ($1::text IS NULL OR tenant_id = $1) ORDER BY lease_id`,
        [tenantId ?? null],
      )
    ).map((row) => row.terms);
    const plans = new Map<string, RatePlanVersion[]>();
    for (const ratePlanId of new Set(leases.flatMap(ratePlanIdsOf)))
      plans.set(ratePlanId, await this.billing.planVersions(this.dataSource, ratePlanId));
    const { due, skipped } = invoicesDueForMonth(leases, (id) => plans.get(id) ?? [], period);

    const invoices: MonthCloseResult['invoices'] = [];
    for (const invoice of due) {
      // One transaction per invoice: the usage consumer may be appending to the same stream; a conflict is
      // decided again from fresh state (by then the invoice exists, and the decision is to do nothing).
      const opened = await this.retryingOnConflict(async (tx) => {
        const { state, version } = await this.billing.loadInvoice(tx, invoice.invoiceId);
        const decision = decideInvoice(state, { kind: 'open', ...invoice });
        if (!Array.isArray(decision)) throw billingError(decision);
        if (decision.length === 0) return { opened: false, status: state.status as 'draft' | 'finalized' };
        await this.billing.append(
          tx,
          [
            {
              streamId: invoiceStreamId(invoice.invoiceId),
              expectedVersion: version,
              events: decision.map((event) => ({
                ...event,
                occurredAt: closedAt,
                eventId: uuidv5(`invoice-opened:${invoice.invoiceId}`, MONTH_CLOSE_NAMESPACE),
              })),
            },
          ],
          { ...meta, tenantId: invoice.tenantId },
        );
        return { opened: true, status: 'draft' as const };
      });
      invoices.push({
        invoiceId: invoice.invoiceId,
        tenantId: invoice.tenantId,
        leaseIds: invoice.leaseIds,
        ...opened,
      });
    }
    return { period, invoices, skipped };
  }

  private async retryingOnConflict<T>(
    work: (tx: Parameters<Parameters<typeof runInTransaction>[1]>[0]) => Promise<T>,
    attempts = 3,
  ): Promise<T> {
    return retryOnConflict(attempts - 1, () => runInTransaction(this.dataSource, work));
  }
}
