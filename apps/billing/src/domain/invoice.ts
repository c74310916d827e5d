import type { billing } from '@fleetledger/contracts';
import { Completeness, incompleteDetail } from './completeness';
import {
  ClassOutage,
  composeInvoiceLines,
  CompositionRejection,
  Currency,
  InvoiceLine,
} from './invoice-lines';
import { LeaseTerms } from './leases';
import { RatePlanVersion } from './rate-plans';
import { ChargeRated, termEndLeaseOf } from './rating';

/**
 * The invoice of one tenant for one calendar month (stream `invoice-<invoiceId>`).
 *
 *   (none) --charges--> draft --finalize--> finalized --corrections--> credit notes
 *
 * A draft collects charges (new ones and adjusting ones). Finalizing freezes its lines and total under a
 * gap-free number; after that, nothing about the invoice changes: a correction that lowers it becomes a credit
 * note, any attempt to add charges or finalize again is rejected with a reason.
 */

export type InvoiceEvent =
  | { type: 'billing.InvoiceDrafted'; eventId: string; payload: billing.InvoiceDraftedPayload }
  | { type: 'billing.ChargeRated'; eventId: string; payload: billing.ChargeRatedPayload }
  | { type: 'billing.CreditIssued'; eventId: string; payload: billing.CreditIssuedPayload }
  | { type: 'billing.InvoiceFinalized'; eventId: string; payload: billing.InvoiceFinalizedPayload }
  | { type: 'billing.CreditNoteIssued'; eventId: string; payload: billing.CreditNoteIssuedPayload }
  | { type: 'billing.CorrectionAbsorbed'; eventId: string; payload: billing.CorrectionAbsorbedPayload };

/** A decided event, before the store gives it an id. */
export type NewInvoiceEvent = {
  [K in InvoiceEvent['type']]: { type: K; payload: Extract<InvoiceEvent, { type: K }>['payload'] };
}[InvoiceEvent['type']];

/** What an invoice is once it exists: whose, which month, in which currency. */
export interface InvoiceHeader {
  invoiceId: string;
  tenantId: string;
  period: string;
  currency: Currency;
}

/** What finalizing froze: the number, lines and total, and the event that did it. */
export interface FinalizedInvoice {
  invoiceNumber: number;
  lines: InvoiceLine[];
  totalMinor: bigint;
  finalizedAt: string;
  eventId: string;
}

/** No event yet: the stream is empty. */
export interface NoInvoice {
  status: 'none';
  charges: Map<string, ChargeRated>;
}

export interface DraftInvoice extends InvoiceHeader {
  status: 'draft';
  charges: Map<string, ChargeRated>;
}

export interface FinalInvoice extends InvoiceHeader {
  status: 'finalized';
  charges: Map<string, ChargeRated>;
  finalized: FinalizedInvoice;
  creditNotes: billing.CreditNoteIssuedPayload[];
  /** Adjusting charges settled after finalization (credited or absorbed): part of every later recomputation. */
  settledAdjustments: ChargeRated[];
  /** Line deltas of absorbed corrections (they sum to zero): part of what was billed. */
  absorbedLines: InvoiceLine[];
  /** Source events already settled by a credit note: a redelivered correction issues no second note. */
  settledSourceIds: Set<string>;
}

/** The invoice stream folded: one shape per status, so what a status has is never optional. */
export type InvoiceState = NoInvoice | DraftInvoice | FinalInvoice;

/**
 * What deciding on new charges needs, and all that billing's fast path loads from the read model instead of
 * replaying the stream: the header, the status, the invoice number once final and the charges already rated
 * (the fast path loads only the ones the batch names). Every InvoiceState is one.
 */
export type InvoiceForCharges =
  | Pick<NoInvoice, 'status'>
  | (InvoiceHeader & { status: 'draft'; charges: ReadonlyMap<string, unknown> })
  | (InvoiceHeader & { status: 'finalized'; finalized: Pick<FinalizedInvoice, 'invoiceNumber'> });

export const initialInvoiceState = (): InvoiceState => ({ status: 'none', charges: new Map() });

export function evolveInvoice(state: InvoiceState, event: InvoiceEvent): InvoiceState {
  switch (event.type) {
    case 'billing.InvoiceDrafted':
      return { charges: state.charges, status: 'draft', ...event.payload };
    case 'billing.ChargeRated': {
      state.charges.set(event.payload.chargeId, event.payload);
      return state;
    }
    case 'billing.CreditIssued':
      return state;
    case 'billing.InvoiceFinalized':
      return {
        ...headerOf(state, event.type),
        status: 'finalized',
        charges: state.charges,
        finalized: {
          invoiceNumber: event.payload.invoiceNumber,
          lines: event.payload.lines,
          totalMinor: BigInt(event.payload.totalMinor),
          finalizedAt: event.payload.finalizedAt,
          eventId: event.eventId,
        },
        creditNotes: [],
        settledAdjustments: [],
        absorbedLines: [],
        settledSourceIds: new Set(),
      };
    case 'billing.CreditNoteIssued': {
      const final = finalOf(state, event.type);
      for (const id of event.payload.sourceEventIds) final.settledSourceIds.add(id);
      return {
        ...final,
        creditNotes: [...final.creditNotes, event.payload],
        settledAdjustments: [...final.settledAdjustments, ...event.payload.adjustingCharges],
      };
    }
    case 'billing.CorrectionAbsorbed': {
      const final = finalOf(state, event.type);
      for (const id of event.payload.sourceEventIds) final.settledSourceIds.add(id);
      return {
        ...final,
        settledAdjustments: [...final.settledAdjustments, ...event.payload.adjustingCharges],
        absorbedLines: [...final.absorbedLines, ...event.payload.lines],
      };
    }
  }
}

/** The id the next credit note of an invoice takes (a draft has none yet, so its first is cn1). */
export function nextCreditNoteId(state: DraftInvoice | FinalInvoice): string {
  const issued = state.status === 'finalized' ? state.creditNotes.length : 0;
  return `${state.invoiceId}.cn${issued + 1}`;
}

/** The header of an invoice that exists; an event that needs one on an empty stream is a corrupt log. */
function headerOf(state: InvoiceState, eventType: string): InvoiceHeader {
  if (state.status === 'none')
    throw new Error(`${eventType} on an invoice stream that has no InvoiceDrafted`);
  const { invoiceId, tenantId, period, currency } = state;
  return { invoiceId, tenantId, period, currency };
}

function finalOf(state: InvoiceState, eventType: string): FinalInvoice {
  if (state.status !== 'finalized')
    throw new Error(`${eventType} on invoice that is not final (${state.status})`);
  return state;
}

/** What the invoice needs from outside its stream to compute lines. */
export interface BillingContext {
  leases: readonly LeaseTerms[];
  planVersions: (ratePlanId: string) => readonly RatePlanVersion[];
  outages?: readonly ClassOutage[];
  /** See CompositionInput: leases whose commitment this month is billed on another invoice. */
  commitmentsBilledElsewhere?: ReadonlySet<string>;
}

export interface RateChargesCommand {
  kind: 'rate-charges';
  invoiceId: string;
  tenantId: string;
  period: string;
  charges: readonly ChargeRated[];
}

export type InvoiceCommand =
  | RateChargesCommand
  | {
      kind: 'finalize';
      invoiceNumber: number;
      finalizedAt: string;
      context: BillingContext;
      /**
       * Issue #22: how complete the period's inputs are (domain/completeness.ts). Absent: not checked
       * (replays and benchmarks of decisions already made).
       */
      completeness?: Completeness;
      /** Finance forces an incomplete draft final: the written reason, recorded in the event. */
      forceReason?: string;
    }
  /** Month close: a draft for a month a commitment is owed in, whether or not usage opened one. */
  | { kind: 'open'; invoiceId: string; tenantId: string; period: string; currency: Currency }
  | {
      kind: 'settle-correction';
      adjustingCharges: readonly ChargeRated[];
      creditNoteId: string;
      creditNoteNumber: number;
      issuedAt: string;
      context: BillingContext;
    }
  | {
      kind: 'grant-credit';
      creditNoteId: string;
      creditNoteNumber: number;
      amountMinor: bigint;
      reason: string;
      issuedAt: string;
    };

export type InvoiceRejectionReason =
  | 'invoice-finalized'
  | 'invoice-not-found'
  | 'invoice-not-finalized'
  | 'currency-mismatch'
  | 'correction-raises-invoice'
  | 'credit-not-positive'
  | 'credit-exceeds-invoice'
  | 'period-incomplete'
  | CompositionRejection['reason'];

export type InvoiceRejection = { kind: 'rejected'; reason: InvoiceRejectionReason; detail: string };

/** Rating charges needs only what InvoiceForCharges holds (billing's fast path loads no more); the rest, the stream. */
export function decideInvoice(
  state: InvoiceForCharges,
  command: RateChargesCommand,
): NewInvoiceEvent[] | InvoiceRejection;
export function decideInvoice(
  state: InvoiceState,
  command: InvoiceCommand,
): NewInvoiceEvent[] | InvoiceRejection;
export function decideInvoice(
  state: InvoiceState | InvoiceForCharges,
  command: InvoiceCommand,
): NewInvoiceEvent[] | InvoiceRejection {
  if (command.kind === 'rate-charges') return decideRateCharges(state, command);
  // The overloads hold that any other command comes with the whole stream folded.
  const folded = state as InvoiceState;
  switch (command.kind) {
    case 'finalize':
      return decideFinalize(folded, command);
    case 'open':
      // Idempotent: an invoice that exists (draft or final) is left as it is.
      if (folded.status !== 'none') return [];
      return [
        {
          type: 'billing.InvoiceDrafted',
          payload: {
            invoiceId: command.invoiceId,
            tenantId: command.tenantId,
            period: command.period,
            currency: command.currency,
          },
        },
      ];
    case 'settle-correction':
      return decideSettleCorrection(folded, command);
    case 'grant-credit':
      return decideGrantCredit(folded, command);
  }
}

function decideRateCharges(
  state: InvoiceForCharges,
  command: RateChargesCommand,
): NewInvoiceEvent[] | InvoiceRejection {
  if (state.status === 'finalized') {
    return {
      kind: 'rejected',
      reason: 'invoice-finalized',
      detail: `invoice ${state.invoiceId} #${state.finalized.invoiceNumber} is final; correct it with a credit note`,
    };
  }
  // New charge ids only, each once (a batch can hold the same usage record twice, re-emitted under a new event id).
  const seen = new Set<string>();
  const fresh = command.charges.filter((charge) => {
    if ((state.status === 'draft' && state.charges.has(charge.chargeId)) || seen.has(charge.chargeId))
      return false;
    seen.add(charge.chargeId);
    return true;
  });
  if (fresh.length === 0) return [];
  const currency = state.status === 'draft' ? state.currency : fresh[0].currency;
  const foreign = fresh.find((charge) => charge.currency.code !== currency.code);
  if (foreign) {
    return {
      kind: 'rejected',
      reason: 'currency-mismatch',
      detail: `invoice in ${currency.code}, charge ${foreign.chargeId} in ${foreign.currency.code}`,
    };
  }
  const events: NewInvoiceEvent[] = [];
  if (state.status === 'none') {
    events.push({
      type: 'billing.InvoiceDrafted',
      payload: { invoiceId: command.invoiceId, tenantId: command.tenantId, period: command.period, currency },
    });
  }
  for (const charge of fresh) events.push({ type: 'billing.ChargeRated', payload: charge });
  return events;
}

function decideFinalize(
  state: InvoiceState,
  command: Extract<InvoiceCommand, { kind: 'finalize' }>,
): NewInvoiceEvent[] | InvoiceRejection {
  if (state.status === 'none')
    return { kind: 'rejected', reason: 'invoice-not-found', detail: 'no charges were rated on this invoice' };
  if (state.status === 'finalized') {
    return {
      kind: 'rejected',
      reason: 'invoice-finalized',
      detail: `invoice ${state.invoiceId} is already final as #${state.finalized.invoiceNumber}`,
    };
  }
  // Issue #22: final only when every input has passed the period end and the grace has elapsed, or
  // forced by finance with a written reason.
  const completeness = command.completeness;
  if (completeness && !completeness.finalizable && !command.forceReason)
    return {
      kind: 'rejected',
      reason: 'period-incomplete',
      detail: incompleteDetail(state.invoiceId, completeness),
    };
  const composition = compose(state, [...state.charges.values()], command.context);
  if (composition.kind === 'rejected') return composition;
  const { invoiceId } = state;
  const events: NewInvoiceEvent[] = composition.credits.map((credit) => ({
    type: 'billing.CreditIssued' as const,
    payload: {
      creditId: `${invoiceId}:${credit.leaseId}:${credit.gpuClass}:sla`,
      invoiceId,
      tenantId: state.tenantId,
      leaseId: credit.leaseId,
      gpuClass: credit.gpuClass,
      period: state.period,
      reason: 'sla-availability' as const,
      availabilityBasisPoints: credit.availabilityBasisPoints,
      creditBasisPoints: credit.creditBasisPoints,
      amountMinor: credit.amountMinor.toString(),
      currency: composition.currency,
      sourceEventIds: credit.sourceEventIds,
    },
  }));
  events.push({
    type: 'billing.InvoiceFinalized',
    payload: {
      invoiceId,
      invoiceNumber: command.invoiceNumber,
      tenantId: state.tenantId,
      period: state.period,
      currency: composition.currency,
      lines: composition.lines,
      totalMinor: composition.totalMinor.toString(),
      finalizedAt: command.finalizedAt,
      leaseEventIds: leaseEventIdsOf(composition.lines, command.context),
      ...(completeness
        ? {
            completeness: {
              coveredUntil: completeness.coveredUntil,
              complete: completeness.complete,
              missing: completeness.missing.map(({ input, reason, detail }) => ({ input, reason, detail })),
            },
          }
        : {}),
      // A reason given for a draft that needed none is not a forced finalization.
      ...(command.forceReason && completeness && !completeness.finalizable
        ? { forcedReason: command.forceReason }
        : {}),
    },
  });
  return events;
}

/**
 * A correction of usage on a finalized invoice: recompute the lines as if the adjusting charges had been there,
 * compare with what was billed (invoice plus earlier credit notes), and issue a credit note for the difference
 * when it lowers the invoice. Commitments apply: usage corrected downwards below the minimum is absorbed by a
 * larger shortfall and credits nothing (recorded as CorrectionAbsorbed, so later corrections count it). A correction that raises the invoice is rejected here; the caller bills
 * it on the open invoice instead (a final invoice is never re-opened).
 */
function decideSettleCorrection(
  state: InvoiceState,
  command: Extract<InvoiceCommand, { kind: 'settle-correction' }>,
): NewInvoiceEvent[] | InvoiceRejection {
  if (state.status !== 'finalized') {
    return {
      kind: 'rejected',
      reason: 'invoice-not-finalized',
      detail: 'a draft takes adjusting charges, not credit notes',
    };
  }
  const fresh = command.adjustingCharges.filter(
    (charge) => !charge.sourceEventIds.every((id) => state.settledSourceIds.has(id)),
  );
  if (fresh.length === 0) return [];
  const composition = compose(
    state,
    [...state.charges.values(), ...state.settledAdjustments, ...fresh],
    command.context,
  );
  if (composition.kind === 'rejected') return composition;

  const billed = new Map<string, bigint>();
  const billedLines = [
    ...state.finalized.lines,
    ...state.creditNotes.flatMap((note) => note.lines),
    ...state.absorbedLines,
  ];
  const billedLine = new Map<string, InvoiceLine>();
  for (const line of billedLines) {
    billed.set(line.lineId, (billed.get(line.lineId) ?? 0n) + BigInt(line.amountMinor));
    if (!billedLine.has(line.lineId)) billedLine.set(line.lineId, line);
  }
  const deltaLines: InvoiceLine[] = [];
  const sourceEventIds = [...new Set(fresh.flatMap((charge) => charge.sourceEventIds))];
  const recomputed = new Map(composition.lines.map((line) => [line.lineId, line]));
  for (const lineId of [...new Set([...billed.keys(), ...recomputed.keys()])].sort()) {
    // Every id comes from one of the two maps.
    const line = (recomputed.get(lineId) ?? billedLine.get(lineId)) as InvoiceLine;
    const delta = BigInt(recomputed.get(lineId)?.amountMinor ?? '0') - (billed.get(lineId) ?? 0n);
    if (delta === 0n) continue;
    deltaLines.push({ ...line, amountMinor: delta.toString(), sourceEventIds });
  }
  const total = deltaLines.reduce((sum, line) => sum + BigInt(line.amountMinor), 0n);
  if (total > 0n) {
    return {
      kind: 'rejected',
      reason: 'correction-raises-invoice',
      detail: `raises invoice #${state.finalized.invoiceNumber} by ${total} minor units`,
    };
  }
  if (total === 0n) {
    return [
      {
        type: 'billing.CorrectionAbsorbed',
        payload: {
          invoiceId: state.invoiceId,
          invoiceNumber: state.finalized.invoiceNumber,
          tenantId: state.tenantId,
          period: state.period,
          adjustingCharges: fresh,
          lines: deltaLines,
          absorbedAt: command.issuedAt,
          sourceEventIds,
        },
      },
    ];
  }
  return [
    {
      type: 'billing.CreditNoteIssued',
      payload: {
        ...creditNoteHeader(state, command),
        reason: 'usage-corrected',
        lines: deltaLines,
        totalMinor: total.toString(),
        adjustingCharges: fresh,
        issuedAt: command.issuedAt,
        sourceEventIds,
      },
    },
  ];
}

/** What every credit note of a final invoice says about itself and the invoice it corrects. */
function creditNoteHeader(state: FinalInvoice, command: { creditNoteId: string; creditNoteNumber: number }) {
  return {
    creditNoteId: command.creditNoteId,
    creditNoteNumber: command.creditNoteNumber,
    invoiceId: state.invoiceId,
    invoiceNumber: state.finalized.invoiceNumber,
    tenantId: state.tenantId,
    period: state.period,
    currency: state.currency,
  };
}

function decideGrantCredit(
  state: InvoiceState,
  command: Extract<InvoiceCommand, { kind: 'grant-credit' }>,
): NewInvoiceEvent[] | InvoiceRejection {
  if (state.status !== 'finalized') {
    return {
      kind: 'rejected',
      reason: 'invoice-not-finalized',
      detail: 'credit notes correct final invoices only',
    };
  }
  if (command.amountMinor <= 0n)
    return { kind: 'rejected', reason: 'credit-not-positive', detail: 'credit a positive amount' };
  const remaining =
    state.finalized.totalMinor + state.creditNotes.reduce((sum, note) => sum + BigInt(note.totalMinor), 0n);
  if (command.amountMinor > remaining) {
    return {
      kind: 'rejected',
      reason: 'credit-exceeds-invoice',
      detail: `at most ${remaining} minor units remain on invoice #${state.finalized.invoiceNumber}`,
    };
  }
  const sourceEventIds = [state.finalized.eventId];
  return [
    {
      type: 'billing.CreditNoteIssued',
      payload: {
        ...creditNoteHeader(state, command),
        reason: command.reason,
        lines: [
          {
            lineId: `${command.creditNoteId}:adjustment`,
            leaseId: '-',
            kind: 'adjustment',
            quantity: '1',
            quantityUnit: 'each',
            amountMinor: (-command.amountMinor).toString(),
            sourceEventIds,
          },
        ],
        totalMinor: (-command.amountMinor).toString(),
        adjustingCharges: [],
        issuedAt: command.issuedAt,
        sourceEventIds,
      },
    },
  ];
}

/** The events behind the terms of every lease the lines bill, in the order billing folded them. */
function leaseEventIdsOf(lines: readonly InvoiceLine[], context: BillingContext): string[] {
  const leaseIds = new Set(lines.map((line) => line.leaseId));
  return [
    ...new Set(
      context.leases
        .filter((lease) => leaseIds.has(lease.leaseId))
        .sort((a, b) => (a.leaseId < b.leaseId ? -1 : a.leaseId > b.leaseId ? 1 : 0))
        .flatMap((lease) => lease.sourceEventIds),
    ),
  ];
}

function compose(state: InvoiceHeader, charges: ChargeRated[], context: BillingContext) {
  return composeInvoiceLines({
    period: state.period,
    charges,
    leases: context.leases.filter((lease) => lease.tenantId === state.tenantId),
    planVersions: context.planVersions,
    outages: context.outages,
    invoiceLeaseId: termEndLeaseOf(state.invoiceId, state.tenantId, state.period),
    commitmentsBilledElsewhere: context.commitmentsBilledElsewhere,
  });
}
