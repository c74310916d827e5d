import type { billing } from '@fleetledger/contracts';
import { Queryable, ident } from '@fleetledger/eventstore';
import { ClassFleet, ClassOutage, leaseOutages } from '../domain/availability';
import { BillingContext } from '../domain/invoice';
import { composeInvoiceLines, InvoiceLine } from '../domain/invoice-lines';
import { committedClasses, LeaseTerms, ratePlanIdsOf } from '../domain/leases';
import { Interval, periodBounds } from '../domain/periods';
import { RatePlanVersion } from '../domain/rate-plans';
import { invoiceIdFor, termEndLeaseOf } from '../domain/rating';

/**
 * What composing an invoice needs (leases, rate plan versions, SLA outages, which invoice bills a commitment),
 * read from billing's read models in one schema: the live `billing`, or a replay of it (`billing_replay`), so
 * the audit previews a replayed draft exactly the way the service previews a live one.
 */
export class BillingContextReader {
  private readonly s: string;

  constructor(schema: string) {
    this.s = ident(schema);
  }

  /**
   * A draft's lines as finalizing it now would compute them: its charges composed with the context. The
   * service shows them as the draft's preview; the audit reprints a replayed draft's total with them.
   */
  async draftPreview(
    tx: Queryable,
    invoice: { invoiceId: string; tenantId: string; period: string },
    /** Issue #22: only usage of hours that start before this instant (the draft's `coveredUntil`). */
    usageBefore?: string,
  ): Promise<InvoiceLine[]> {
    const rated = await tx.query<{ charge: billing.ChargeRatedPayload }[]>(
      `SELECT charge FROM ${this.s}.charges WHERE invoice_id = $1`,
      [invoice.invoiceId],
    );
    const beforeMs = usageBefore === undefined ? Number.POSITIVE_INFINITY : Date.parse(usageBefore);
    const charges = rated.filter((c) => Date.parse(c.charge.usageHourStart) < beforeMs);
    const context = await this.context(tx, invoice.tenantId, invoice);
    const composition = composeInvoiceLines({
      period: invoice.period,
      charges: charges.map((c) => c.charge),
      ...context,
      invoiceLeaseId: termEndLeaseOf(invoice.invoiceId, invoice.tenantId, invoice.period),
    });
    return composition.kind === 'composed' ? composition.lines : [];
  }

  async planVersions(tx: Queryable, ratePlanId: string): Promise<RatePlanVersion[]> {
    const rows = await tx.query<{ plan: RatePlanVersion }[]>(
      `SELECT plan FROM ${this.s}.rate_plan_versions WHERE rate_plan_id = $1 ORDER BY version`,
      [ratePlanId],
    );
    return rows.map((row) => row.plan);
  }

  async lease(tx: Queryable, leaseId: string): Promise<LeaseTerms | undefined> {
    const [row] = await tx.query<{ terms: LeaseTerms }[]>(
      `SELECT terms FROM ${this.s}.leases WHERE lease_id = $1`,
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
      await tx.query<{ terms: LeaseTerms }[]>(`SELECT terms FROM ${this.s}.leases WHERE tenant_id = $1`, [
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
        `SELECT invoice_id FROM ${this.s}.invoices WHERE tenant_id = $1 AND period = $2 AND invoice_id <> $3`,
        [tenantId, invoice.period, monthly],
      );
      return new Set(
        others.map((row) => termEndLeaseOf(row.invoice_id, tenantId, invoice.period)!).filter(Boolean),
      );
    }
    const billedOnMonthly = await tx.query<unknown[]>(
      `SELECT 1 FROM ${this.s}.invoice_lines WHERE document_id = $1 AND lease_id = $2
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
      ? (await tx.query<{ terms: LeaseTerms }[]>(`SELECT terms FROM ${this.s}.leases ORDER BY lease_id`)).map(
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
         FROM ${this.s}.gpu_availability_changes WHERE ${scope} AND at <= $4
        ORDER BY gpu_id, at DESC, position DESC`,
      [gpuClass, racks, halls ?? [], start],
    );
    const changes = await tx.query<Row[]>(
      `SELECT gpu_id, rack_id, hall_id, available, event_id, at
         FROM ${this.s}.gpu_availability_changes WHERE ${scope} AND at > $4 AND at < $5
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
