import { HttpStatus, Injectable, Optional } from '@nestjs/common';
import { ServiceError } from '@fleetledger/platform';
import { EventEnvelope, NewEvent } from '@fleetledger/contracts';
import {
  Queryable,
  runInTransaction,
  StreamAppend,
  WrongExpectedVersionError,
} from '@fleetledger/eventstore';
import { DataSource, EntityManager } from 'typeorm';
import { billingError } from '../billing-errors';
import { decideInvoice, InvoiceRejection, nextCreditNoteId } from '../domain/invoice';
import { periodOf } from '../domain/periods';
import { ChargeRated, invoiceIdFor } from '../domain/rating';
import { CompletenessQueries } from '../queries/completeness.queries';
import { AppendMeta, BillingStore, invoiceStreamId } from './billing-store';

export type SettleOutcome = 'credited' | 'already-settled' | 'absorbed' | 'billed-on-open-invoice';

/** Invoice use cases: rate charges onto drafts, finalize with a gap-free number, credit notes. */
@Injectable()
export class InvoiceHandler {
  constructor(
    private readonly dataSource: DataSource,
    private readonly billing: BillingStore,
    /** Issue #22: without it (benchmarks of the decision path) finalization does not check completeness. */
    @Optional() private readonly completeness?: CompletenessQueries,
  ) {}

  /** Inside the caller's transaction. Returns the rejection when the invoice is already final. */
  async rateCharges(
    tx: Queryable,
    invoiceId: string,
    charges: readonly ChargeRated[],
    meta: AppendMeta,
  ): Promise<InvoiceRejection | EventEnvelope[]> {
    return this.rateChargesBatch(tx, invoiceId, [{ charges, meta }]);
  }

  /**
   * The charges of many usage events for one invoice in one decision and one append (inside the caller's
   * transaction); each event's charges keep their own causation in the log. Returns the rejection when the
   * invoice cannot take them (final, another currency): the caller then settles those events one by one.
   */
  async rateChargesBatch(
    tx: Queryable,
    invoiceId: string,
    groups: readonly { charges: readonly ChargeRated[]; meta: AppendMeta }[],
  ): Promise<InvoiceRejection | EventEnvelope[]> {
    const charges = groups.flatMap((group) => group.charges);
    const { state, version } = await this.billing.loadInvoiceForCharges(
      tx,
      invoiceId,
      charges.map((charge) => charge.chargeId),
    );
    const first = charges[0];
    const decision = decideInvoice(state, {
      kind: 'rate-charges',
      invoiceId,
      tenantId: first.tenantId,
      period: first.period,
      charges,
    });
    if (!Array.isArray(decision)) return decision;
    // Split the decided events back by the group their charge came from (the draft goes with the first group).
    const groupOf = new Map<string, number>();
    groups.forEach((group, index) => {
      for (const charge of group.charges)
        if (!groupOf.has(charge.chargeId)) groupOf.set(charge.chargeId, index);
    });
    const perGroup = groups.map(() => [] as NewEvent[]);
    for (const event of decision) {
      const index = event.type === 'billing.ChargeRated' ? groupOf.get(event.payload.chargeId)! : 0;
      perGroup[index].push({
        type: event.type,
        payload: event.payload,
        occurredAt:
          event.type === 'billing.ChargeRated' ? event.payload.usageHourStart : first.usageHourStart,
      });
    }
    let expectedVersion = version;
    const appends: StreamAppend[] = [];
    groups.forEach((group, index) => {
      if (perGroup[index].length === 0) return;
      appends.push({
        streamId: invoiceStreamId(invoiceId),
        expectedVersion,
        events: perGroup[index],
        context: group.meta,
      });
      expectedVersion += perGroup[index].length;
    });
    return this.billing.append(tx, appends, groups[0].meta);
  }

  /**
   * Finalizes a draft under the next gap-free number. Issue #22: only when its period is complete and
   * the grace has elapsed (409 `period-incomplete` naming each missing input), unless `forceReason`
   * says in writing why finance finalizes it anyway. `nowMs` is the wall clock the period and grace are
   * judged against.
   */
  async finalize(
    tenantId: string,
    invoiceId: string,
    finalizedAt: string,
    meta: AppendMeta,
    options: { forceReason?: string; nowMs?: number } = {},
  ): Promise<EventEnvelope[]> {
    return this.retryingOnConflict(async (tx) => {
      const { state, version } = await this.billing.loadInvoice(tx, invoiceId);
      if (state.status === 'none' || state.tenantId !== tenantId)
        throw billingError({ reason: 'invoice-not-found', detail: `no invoice ${invoiceId}` });
      const context = await this.billing.context(tx, tenantId, { invoiceId, period: state.period });
      const completeness =
        state.status === 'draft'
          ? await this.completeness?.of(tx, tenantId, state.period, options.nowMs ?? Date.now())
          : undefined;
      const claim = await this.billing.claimNumber(tx, 'invoice', invoiceId, finalizedAt);
      const decision = decideInvoice(state, {
        kind: 'finalize',
        invoiceNumber: claim.number,
        finalizedAt,
        context,
        completeness,
        forceReason: options.forceReason,
      });
      if (!Array.isArray(decision) && decision.reason === 'period-incomplete' && completeness)
        // The body names each missing input (details.missing), so a caller can tell what to wait for.
        throw new ServiceError(decision.reason, decision.detail, HttpStatus.CONFLICT, {
          coveredUntil: completeness.coveredUntil,
          complete: completeness.complete,
          finalizableFrom: completeness.finalizableFrom,
          missing: completeness.missing,
        });
      if (!Array.isArray(decision)) throw billingError(decision);
      const events = decision.map((event) => ({ ...event, occurredAt: finalizedAt }));
      return this.billing.append(
        tx,
        [{ streamId: invoiceStreamId(invoiceId), expectedVersion: version, events }, claim.append],
        { ...meta, tenantId },
      );
    });
  }

  async grantCredit(
    tenantId: string,
    invoiceId: string,
    amountMinor: bigint,
    reason: string,
    issuedAt: string,
    meta: AppendMeta,
  ) {
    return this.retryingOnConflict(async (tx) => {
      const { state, version } = await this.billing.loadInvoice(tx, invoiceId);
      if (state.status === 'none' || state.tenantId !== tenantId)
        throw billingError({ reason: 'invoice-not-found', detail: `no invoice ${invoiceId}` });
      const creditNoteId = nextCreditNoteId(state);
      const claim = await this.billing.claimNumber(tx, 'credit-note', creditNoteId, issuedAt);
      const decision = decideInvoice(state, {
        kind: 'grant-credit',
        creditNoteId,
        creditNoteNumber: claim.number,
        amountMinor,
        reason,
        issuedAt,
      });
      if (!Array.isArray(decision)) throw billingError(decision);
      const events = decision.map((event) => ({ ...event, occurredAt: issuedAt }));
      return this.billing.append(
        tx,
        [{ streamId: invoiceStreamId(invoiceId), expectedVersion: version, events }, claim.append],
        { ...meta, tenantId },
      );
    });
  }

  /**
   * Two documents finalized at once both read the same next number; the store lets one append and refuses the
   * other (nothing written). The refused one is decided again from fresh state, a few times, then reported (409).
   */
  private async retryingOnConflict<T>(work: (tx: EntityManager) => Promise<T>, attempts = 3): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await runInTransaction(this.dataSource, work);
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= attempts) throw error;
      }
    }
  }

  /**
   * Adjusting charges for an invoice that may be final. Open invoice: they join it. Final invoice: a credit
   * note when they lower it; when they raise it they are billed on the tenant's invoice of the month the
   * correction happened in (never on the final one); when the commitment absorbs them, 'absorbed' (recorded on the invoice stream).
   */
  async settleAdjustments(
    tx: Queryable,
    charges: readonly ChargeRated[],
    correctedAt: string,
    meta: AppendMeta,
  ): Promise<SettleOutcome> {
    const invoiceId = charges[0].invoiceId;
    const rated = await this.rateCharges(tx, invoiceId, charges, meta);
    if (Array.isArray(rated)) return 'billed-on-open-invoice';
    if (rated.reason !== 'invoice-finalized') throw billingError(rated);
    const { state, version } = await this.billing.loadInvoice(tx, invoiceId);
    if (state.status !== 'finalized')
      throw new Error(`invoice ${invoiceId} refused charges as final but is ${state.status}`);
    const context = await this.billing.context(tx, state.tenantId, { invoiceId, period: state.period });
    const creditNoteId = nextCreditNoteId(state);
    const claim = await this.billing.claimNumber(tx, 'credit-note', creditNoteId, correctedAt);
    const decision = decideInvoice(state, {
      kind: 'settle-correction',
      adjustingCharges: charges,
      creditNoteId,
      creditNoteNumber: claim.number,
      issuedAt: correctedAt,
      context,
    });
    if (Array.isArray(decision)) {
      if (decision.length === 0) return 'already-settled';
      const events = decision.map((event) => ({ ...event, occurredAt: correctedAt }));
      const credited = decision.some((event) => event.type === 'billing.CreditNoteIssued');
      // A number is claimed only by a credit note; an absorbed correction takes none.
      await this.billing.append(
        tx,
        [
          { streamId: invoiceStreamId(invoiceId), expectedVersion: version, events },
          ...(credited ? [claim.append] : []),
        ],
        meta,
      );
      return credited ? 'credited' : 'absorbed';
    }
    if (decision.reason !== 'correction-raises-invoice') throw billingError(decision);
    const openPeriod = periodOf(Date.parse(correctedAt));
    const openInvoiceId = invoiceIdFor(state.tenantId, openPeriod);
    const moved = charges.map((charge) => ({ ...charge, invoiceId: openInvoiceId, period: openPeriod }));
    const onOpen = await this.rateCharges(tx, openInvoiceId, moved, meta);
    if (!Array.isArray(onOpen)) throw billingError(onOpen);
    return 'billed-on-open-invoice';
  }
}
