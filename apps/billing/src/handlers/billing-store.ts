import { Injectable } from '@nestjs/common';
import { EventEnvelope, NewEvent } from '@fleetledger/contracts';
import { EventStore, Queryable, StreamAppend } from '@fleetledger/eventstore';
import { Messaging, Metrics } from '@fleetledger/platform';
import { InvoiceEvent, InvoiceState, evolveInvoice, initialInvoiceState } from '../domain/invoice';
import { BillingContext } from '../domain/invoice';
import { LeaseTerms } from '../domain/leases';
import { RatePlanVersion } from '../domain/rate-plans';
import { invoicesProjection } from '../projections/invoices.projection';

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
  constructor(
    readonly store: EventStore,
    private readonly messaging: Messaging,
    private readonly metrics: Metrics,
  ) {}

  async loadInvoice(tx: Queryable, invoiceId: string): Promise<{ state: InvoiceState; version: number }> {
    const history = await this.store.readStream(tx, invoiceStreamId(invoiceId));
    const state = history.reduce((current, event) => evolveInvoice(current, event as InvoiceEvent), initialInvoiceState());
    return { state, version: history.length };
  }

  /** Appends atomically to several streams (outbox included) and updates the read models in the same transaction. */
  async append(tx: Queryable, appends: readonly StreamAppend[], meta: AppendMeta): Promise<EventEnvelope[]> {
    const appended = await this.store.appendToStreams(tx, appends, { ...meta, topic: this.messaging.eventsTopic });
    for (const event of appended) {
      await invoicesProjection.apply(tx, event, this.store.schema);
      this.metrics.eventsAppended.inc({ type: event.type });
    }
    return appended;
  }

  /** The next gap-free number of a series and the append that claims it (fails on a concurrent claim). */
  async claimNumber(tx: Queryable, series: 'invoice' | 'credit-note', documentId: string, occurredAt: string) {
    const version = await this.store.streamVersion(tx, numberStreamId(series));
    const number = version + 1;
    const event: NewEvent = { type: 'billing.DocumentNumberAssigned', payload: { series, number, documentId }, occurredAt };
    const append: StreamAppend = { streamId: numberStreamId(series), expectedVersion: version, events: [event] };
    return { number, append };
  }

  async planVersions(tx: Queryable, ratePlanId: string): Promise<RatePlanVersion[]> {
    const rows = await tx.query<{ plan: RatePlanVersion }[]>(
      `SELECT plan FROM billing.rate_plan_versions WHERE rate_plan_id = $1 ORDER BY version`,
      [ratePlanId],
    );
    return rows.map((row) => row.plan);
  }

  async lease(tx: Queryable, leaseId: string): Promise<LeaseTerms | undefined> {
    const [row] = await tx.query<{ terms: LeaseTerms }[]>(`SELECT terms FROM billing.leases WHERE lease_id = $1`, [leaseId]);
    return row?.terms;
  }

  /** Leases of a tenant and every plan version they use: what composing an invoice needs. */
  async context(tx: Queryable, tenantId: string): Promise<BillingContext> {
    const leases = (await tx.query<{ terms: LeaseTerms }[]>(`SELECT terms FROM billing.leases WHERE tenant_id = $1`, [tenantId])).map((row) => row.terms);
    const plans = new Map<string, RatePlanVersion[]>();
    for (const ratePlanId of new Set(leases.map((lease) => lease.ratePlanId))) plans.set(ratePlanId, await this.planVersions(tx, ratePlanId));
    return { leases, planVersions: (ratePlanId) => plans.get(ratePlanId) ?? [] };
  }
}
