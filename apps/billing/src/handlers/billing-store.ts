import { Injectable } from '@nestjs/common';
import { EventEnvelope, NewEvent } from '@fleetledger/contracts';
import { EventStore, Queryable, StreamAppend } from '@fleetledger/eventstore';
import { Messaging, Metrics } from '@fleetledger/platform';
import { InvoiceEvent, InvoiceState, evolveInvoice, initialInvoiceState } from '../domain/invoice';
import { BillingContext } from '../domain/invoice';
import { ClassFleet, ClassOutage, leaseOutages } from '../domain/availability';
import { committedClasses, LeaseTerms, ratePlanIdsOf } from '../domain/leases';
import { Interval, periodBounds } from '../domain/periods';
import { RatePlanVersion } from '../domain/rate-plans';
import { ChargeRated, invoiceIdFor, termEndLeaseOf } from '../domain/rating';
import { applyInvoiceEvents } from '../projections/invoices.projection';

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
  ): Promise<{ state: InvoiceState; version: number }> {
    const version = await this.store.streamVersion(tx, invoiceStreamId(invoiceId));
    const state = initialInvoiceState();
    if (version === 0) return { state, version };
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
      `SELECT tenant_id, period, status, currency_code, currency_exponent, invoice_number FROM billing.invoices WHERE invoice_id = $1`,
      [invoiceId],
    );
    if (!row) throw new Error(`invoice ${invoiceId} has events but no read-model row`);
    state.status = row.status;
    state.invoiceId = invoiceId;
    state.tenantId = row.tenant_id;
    state.period = row.period;
    state.currency = { code: row.currency_code, minorUnitExponent: row.currency_exponent };
    if (row.invoice_number !== null)
      state.finalized = {
        invoiceNumber: row.invoice_number,
        lines: [],
        totalMinor: 0n,
        finalizedAt: '',
        eventId: '',
      };
    const known = await tx.query<{ charge: ChargeRated }[]>(
      `SELECT charge FROM billing.charges WHERE charge_id = ANY($1::text[])`,
      [chargeIds],
    );
    for (const { charge } of known) state.charges.set(charge.chargeId, charge);
    return { state, version };
  }

  /** Appends atomically to several streams (outbox included) and updates the read models in the same transaction. */
  async append(tx: Queryable, appends: readonly StreamAppend[], meta: AppendMeta): Promise<EventEnvelope[]> {
    const appended = await this.store.appendToStreams(tx, appends, {
      ...meta,
      topic: this.messaging.eventsTopic,
    });
    await applyInvoiceEvents(tx, appended, this.store.schema);
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

  async planVersions(tx: Queryable, ratePlanId: string): Promise<RatePlanVersion[]> {
    const rows = await tx.query<{ plan: RatePlanVersion }[]>(
      `SELECT plan FROM billing.rate_plan_versions WHERE rate_plan_id = $1 ORDER BY version`,
      [ratePlanId],
    );
    return rows.map((row) => row.plan);
  }

  async lease(tx: Queryable, leaseId: string): Promise<LeaseTerms | undefined> {
    const [row] = await tx.query<{ terms: LeaseTerms }[]>(
      `SELECT terms FROM billing.leases WHERE lease_id = $1`,
      [leaseId],
    );
    return row?.terms;
  }

  /**
   * Leases of a tenant and every plan version they use: what composing an invoice needs. With a period, also
   * the SLA outages of the tenant's leases in it, from the GPU health billing has consumed so far.
   */
  async context(
    tx: Queryable,
    tenantId: string,
    invoice?: { invoiceId: string; period: string },
  ): Promise<BillingContext> {
    const leases = (
      await tx.query<{ terms: LeaseTerms }[]>(`SELECT terms FROM billing.leases WHERE tenant_id = $1`, [
        tenantId,
      ])
    ).map((row) => row.terms);
    const plans = new Map<string, RatePlanVersion[]>();
    for (const ratePlanId of new Set(leases.flatMap(ratePlanIdsOf)))
      plans.set(ratePlanId, await this.planVersions(tx, ratePlanId));
    if (!invoice) return { leases, planVersions: (ratePlanId) => plans.get(ratePlanId) ?? [] };
    return {
      leases,
      planVersions: (ratePlanId) => plans.get(ratePlanId) ?? [],
      outages: await this.outages(tx, leases, invoice.period),
      commitmentsBilledElsewhere: await this.commitmentsBilledElsewhere(tx, tenantId, invoice),
    };
  }

  /**
   * Which invoice of a month bills a lease's commitment (take-or-pay, SLA): the monthly invoice leaves it to the
   * lease's term-end invoice when that exists; a term-end invoice leaves it to the monthly invoice when that was
   * finalized with it first (the term-end invoice was opened by usage that came after). Never both.
   */
  private async commitmentsBilledElsewhere(
    tx: Queryable,
    tenantId: string,
    invoice: { invoiceId: string; period: string },
  ): Promise<Set<string>> {
    const monthly = invoiceIdFor(tenantId, invoice.period);
    const leaseId = termEndLeaseOf(invoice.invoiceId, tenantId, invoice.period);
    if (leaseId === undefined) {
      const others = await tx.query<{ invoice_id: string }[]>(
        `SELECT invoice_id FROM billing.invoices WHERE tenant_id = $1 AND period = $2 AND invoice_id <> $3`,
        [tenantId, invoice.period, monthly],
      );
      return new Set(
        others.map((row) => termEndLeaseOf(row.invoice_id, tenantId, invoice.period)!).filter(Boolean),
      );
    }
    const billedOnMonthly = await tx.query(
      `SELECT 1 FROM billing.invoice_lines WHERE document_id = $1 AND lease_id = $2
          AND (kind IN ('gpu-overage', 'commitment-shortfall', 'sla-credit')
               OR (kind = 'gpu-usage' AND line_id NOT LIKE '%:prior-period' AND line_id NOT LIKE '%:outside-commitment'))
        LIMIT 1`,
      [monthly, leaseId],
    );
    return new Set(billedOnMonthly.length > 0 ? [leaseId] : []);
  }

  /** GPU-seconds of commitment the fleet could not serve, per lease and class (domain/availability.ts). */
  async outages(tx: Queryable, leases: readonly LeaseTerms[], period: string): Promise<ClassOutage[]> {
    const bounds = periodBounds(period);
    const committed = leases.filter((lease) => committedClasses(lease, bounds).length > 0);
    if (committed.length === 0) return [];
    const anyShared = committed.some((lease) => lease.exclusivity !== 'exclusive');
    const allLeases = anyShared
      ? (await tx.query<{ terms: LeaseTerms }[]>(`SELECT terms FROM billing.leases ORDER BY lease_id`)).map(
          (row) => row.terms,
        )
      : committed;
    const fleets = new Map<string, ClassFleet>();
    for (const gpuClass of new Set(committed.flatMap((lease) => committedClasses(lease, bounds)))) {
      // Exclusive leases with a scope need only their racks and halls; anything else needs the whole class.
      const ofClass = committed.filter((lease) => committedClasses(lease, bounds).includes(gpuClass));
      const scoped = ofClass.every(
        (lease) =>
          lease.exclusivity === 'exclusive' &&
          (lease.scope?.rackIds.length ?? 0) + (lease.scope?.hallIds.length ?? 0) > 0,
      );
      const racks = scoped ? ofClass.flatMap((lease) => lease.scope!.rackIds) : null;
      const halls = scoped ? ofClass.flatMap((lease) => lease.scope!.hallIds) : null;
      fleets.set(gpuClass, await this.classFleet(tx, gpuClass, bounds, racks, halls));
    }
    return leaseOutages({
      period,
      leases: committed,
      allLeases,
      fleet: (gpuClass) => fleets.get(gpuClass) ?? { initial: [], changes: [] },
    });
  }

  /** The GPUs of a class (optionally of some racks and halls): state at the period start, changes within it. */
  private async classFleet(
    tx: Queryable,
    gpuClass: string,
    bounds: Interval,
    racks: string[] | null,
    halls: string[] | null,
  ): Promise<ClassFleet> {
    type Row = {
      gpu_id: string;
      rack_id: string;
      hall_id: string;
      available: boolean;
      event_id: string;
      at: Date;
    };
    const scope = `gpu_class = $1 AND ($2::text[] IS NULL OR rack_id = ANY($2::text[]) OR hall_id = ANY($3::text[]))`;
    const start = new Date(bounds.startMs).toISOString();
    const end = new Date(bounds.endMs).toISOString();
    const initial = await tx.query<Row[]>(
      `SELECT DISTINCT ON (gpu_id) gpu_id, rack_id, hall_id, available, event_id, at
         FROM billing.gpu_availability_changes WHERE ${scope} AND at <= $4
        ORDER BY gpu_id, at DESC, position DESC`,
      [gpuClass, racks, halls ?? [], start],
    );
    const changes = await tx.query<Row[]>(
      `SELECT gpu_id, rack_id, hall_id, available, event_id, at
         FROM billing.gpu_availability_changes WHERE ${scope} AND at > $4 AND at < $5
        ORDER BY at, position`,
      [gpuClass, racks, halls ?? [], start, end],
    );
    const gpu = (row: Row) => ({
      gpuId: row.gpu_id,
      rackId: row.rack_id,
      hallId: row.hall_id,
      available: row.available,
      eventId: row.event_id,
    });
    return {
      initial: initial.map(gpu),
      changes: changes.map((row) => ({ ...gpu(row), atMs: row.at.getTime() })),
    };
  }
}
