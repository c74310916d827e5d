import { Injectable } from '@nestjs/common';
import { EventEnvelope, NewEvent } from '@fleetledger/contracts';
import { EventStore, ident, Queryable, recordEvents, StreamAppend } from '@fleetledger/eventstore';
import { Messaging, Metrics } from '@fleetledger/platform';
import {
  InvoiceEvent,
  InvoiceForCharges,
  InvoiceState,
  evolveInvoice,
  initialInvoiceState,
} from '../domain/invoice';
import { BillingContext } from '../domain/invoice';
import { LeaseTerms } from '../domain/leases';
import { RatePlanVersion } from '../domain/rate-plans';
import { ChargeRated } from '../domain/rating';
import { invoicesProjection } from '../projections/invoices.projection';
import { BillingContextReader } from '../queries/billing-context';

export const invoiceStreamId = (invoiceId: string) => `invoice-${invoiceId}`;
export const numberStreamId = (series: 'invoice' | 'credit-note') => `${series}-numbers`;

export interface AppendMeta {
  correlationId: string;
  causationId?: string;
  tenantId?: string;
}

/** The I/O every billing handler shares: load an invoice, append + outbox + inline projection, load context. */
@Injectable()
export class BillingStore {
  /** Leases, plans and fleet health as this service's read models have them. */
  readonly reader: BillingContextReader;

  constructor(
    readonly store: EventStore,
    private readonly messaging: Messaging,
    private readonly metrics: Metrics,
  ) {
    this.reader = new BillingContextReader(store.schema);
  }

  async loadInvoice(tx: Queryable, invoiceId: string): Promise<{ state: InvoiceState; version: number }> {
    const history = await this.store.readStream(tx, invoiceStreamId(invoiceId));
    const state = history.reduce(
      (current, event) => evolveInvoice(current, event as InvoiceEvent),
      initialInvoiceState(),
    );
    return { state, version: history.length };
  }

  /**
   * What deciding on new charges needs, without replaying the invoice stream (a month of a big tenant is tens
   * of thousands of charges): status, currency, and which of these charge ids exist, from the read model that
   * commits with every append. The version is read first, so a concurrent append fails ours (and we retry).
   */
  async loadInvoiceForCharges(
    tx: Queryable,
    invoiceId: string,
    chargeIds: readonly string[],
  ): Promise<{ state: InvoiceForCharges; version: number }> {
    const version = await this.store.streamVersion(tx, invoiceStreamId(invoiceId));
    if (version === 0) return { state: { status: 'none' }, version };
    const [row] = await tx.query<
      {
        tenant_id: string;
        period: string;
        status: 'draft' | 'finalized';
        currency_code: string;
        currency_exponent: number;
        invoice_number: number | null;
      }[]
    >(
      `SELECT tenant_id, period, status, currency_code, currency_exponent, invoice_number FROM ${ident(this.store.schema)}.invoices WHERE invoice_id = $1`,
      [invoiceId],
    );
    if (!row) throw new Error(`invoice ${invoiceId} has events but no read-model row`);
    const header = {
      invoiceId,
      tenantId: row.tenant_id,
      period: row.period,
      currency: { code: row.currency_code, minorUnitExponent: row.currency_exponent },
    };
    if (row.status === 'finalized') {
      if (row.invoice_number === null)
        throw new Error(`final invoice ${invoiceId} has no number in the read model`);
      return {
        state: { ...header, status: 'finalized', finalized: { invoiceNumber: row.invoice_number } },
        version,
      };
    }
    const known = await tx.query<{ charge: ChargeRated }[]>(
      `SELECT charge FROM ${ident(this.store.schema)}.charges WHERE charge_id = ANY($1::text[])`,
      [chargeIds],
    );
    const charges = new Map(known.map(({ charge }) => [charge.chargeId, charge]));
    return { state: { ...header, status: 'draft', charges }, version };
  }

  /** Appends atomically to several streams (outbox included) and updates the read models in the same transaction. */
  async append(tx: Queryable, appends: readonly StreamAppend[], meta: AppendMeta): Promise<EventEnvelope[]> {
    // libs/eventstore's recordEvents, as handleCommand records: events + outbox, then the inline projection.
    const appended = await recordEvents(
      tx,
      { store: this.store, topic: this.messaging.eventsTopic, projections: [invoicesProjection] },
      appends,
      meta,
    );
    for (const event of appended) this.metrics.eventsAppended.inc({ type: event.type });
    return appended;
  }

  /** The next gap-free number of a series and the append that claims it (fails on a concurrent claim). */
  async claimNumber(
    tx: Queryable,
    series: 'invoice' | 'credit-note',
    documentId: string,
    occurredAt: string,
  ) {
    const version = await this.store.streamVersion(tx, numberStreamId(series));
    const number = version + 1;
    const event: NewEvent = {
      type: 'billing.DocumentNumberAssigned',
      payload: { series, number, documentId },
      occurredAt,
    };
    const append: StreamAppend = {
      streamId: numberStreamId(series),
      expectedVersion: version,
      events: [event],
    };
    return { number, append };
  }

  planVersions(tx: Queryable, ratePlanId: string): Promise<RatePlanVersion[]> {
    return this.reader.planVersions(tx, ratePlanId);
  }

  lease(tx: Queryable, leaseId: string): Promise<LeaseTerms | undefined> {
    return this.reader.lease(tx, leaseId);
  }

  context(
    tx: Queryable,
    tenantId: string,
    invoice?: { invoiceId: string; period: string },
  ): Promise<BillingContext> {
    return this.reader.context(tx, tenantId, invoice);
  }
}
