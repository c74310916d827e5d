import { Injectable, Logger } from '@nestjs/common';
import { eventGuard, EventEnvelope, EventOf, isEvent, metering } from '@fleetledger/contracts';
import { Queryable } from '@fleetledger/eventstore';
import { ServiceError } from '@fleetledger/platform';
import { LeaseTerms, ratePlanIdAt } from '../domain/leases';
import { RatePlanVersion } from '../domain/rate-plans';
import { ChargeRated, rateCorrection, rateUsage } from '../domain/rating';
import { applyLeaseEvent, LEASE_EVENT_TYPES } from '../projections/leases.projection';
import { AppendMeta, BillingStore } from './billing-store';
import { InvoiceHandler } from './invoice.handler';
import { recordInputWatermark } from './input-watermarks';

export { LEASE_EVENT_TYPES };
export const USAGE_EVENT_TYPES = new Set<string>([
  metering.UsageRecorded.type,
  metering.UsageCorrected.type,
  // Issue #22: metering's watermark, in the same partitions as the usage it covers.
  metering.UsageWindowsClosed.type,
]);

/** A consumed usage event (metering's UsageRecorded or UsageCorrected), narrowed by its type. */
const isUsageEvent = eventGuard([metering.UsageRecorded, metering.UsageCorrected]);
type UsageEvent = EventEnvelope & EventOf<typeof metering.UsageRecorded | typeof metering.UsageCorrected>;
type UsageRecordedEvent = EventEnvelope & {
  type: typeof metering.UsageRecorded.type;
  payload: metering.UsageRecordedPayload;
};

/**
 * Turns consumed usage into charges, inside the consumer's inbox transaction (so a redelivered event changes
 * nothing). Usage that cannot be rated yet (its lease or rate plan has not arrived: topics are not ordered with
 * each other) is held visibly in usage_holds and rated as soon as what it waits for arrives. Nothing is dropped.
 */
@Injectable()
export class UsageRater {
  private readonly logger = new Logger(UsageRater.name);

  constructor(
    private readonly billing: BillingStore,
    private readonly invoices: InvoiceHandler,
  ) {}

  async handle(event: EventEnvelope, tx: Queryable): Promise<void> {
    if (LEASE_EVENT_TYPES.has(event.type)) return this.applyLeaseEvent(event, tx);
    if (isUsageEvent(event)) return this.rate(event, tx);
    if (isEvent(metering.UsageWindowsClosed, event)) return this.recordMeteringWatermark(event, tx);
  }

  /**
   * A whole Kafka batch in the inbox transaction: usage records are rated together (leases and plans loaded once,
   * one decision and one append per invoice); lease events, corrections and anything an invoice refuses go the
   * one-by-one way, in their order after the records they follow. The outcome is the same as `handle` per event.
   */
  async handleBatch(events: readonly EventEnvelope[], tx: Queryable): Promise<void> {
    let run: UsageRecordedEvent[] = [];
    for (const event of events) {
      if (isEvent(metering.UsageRecorded, event)) {
        run.push(event);
        continue;
      }
      await this.rateRecords(run, tx);
      run = [];
      await this.handle(event, tx);
    }
    await this.rateRecords(run, tx);
  }

  /**
   * Issue #22: metering closed every hour before `closedBefore` and published it after those records on
   * this partition; every record before it on this partition is rated (or held) by now, in this same
   * inbox transaction or an earlier one. Never moves back.
   */
  private async recordMeteringWatermark(
    event: EventEnvelope & { payload: metering.UsageWindowsClosedPayload },
    tx: Queryable,
  ): Promise<void> {
    const mark = event.payload;
    await recordInputWatermark(
      tx,
      'metering',
      { partition: mark.partition, partitions: mark.partitions, watermark: mark.closedBefore },
      event.eventId,
    );
  }

  private async rateRecords(events: readonly UsageRecordedEvent[], tx: Queryable): Promise<void> {
    if (events.length === 0) return;
    const leaseIds = [...new Set(events.map((event) => event.payload.leaseId))];
    const leases = new Map(
      (
        await tx.query<{ lease_id: string; terms: LeaseTerms }[]>(
          `SELECT lease_id, terms FROM billing.leases WHERE lease_id = ANY($1::text[])`,
          [leaseIds],
        )
      ).map((row) => [row.lease_id, row.terms]),
    );
    const plans = new Map<string, RatePlanVersion[]>();
    const byInvoice = new Map<string, { event: UsageRecordedEvent; charges: ChargeRated[] }[]>();
    const oneByOne: UsageRecordedEvent[] = [];
    for (const event of events) {
      const usage = event.payload;
      const lease = leases.get(usage.leaseId);
      if (!lease) {
        oneByOne.push(event); // held with its reason on the way
        continue;
      }
      const ratePlanId = ratePlanIdAt(lease, Date.parse(usage.hourStart));
      let versions = plans.get(ratePlanId);
      if (!versions) {
        versions = await this.billing.planVersions(tx, ratePlanId);
        plans.set(ratePlanId, versions);
      }
      const charges = rateUsage({ eventId: event.eventId, payload: usage }, versions, lease);
      if (!Array.isArray(charges)) {
        oneByOne.push(event);
        continue;
      }
      if (charges.length === 0) continue;
      const group = byInvoice.get(charges[0].invoiceId);
      if (group) group.push({ event, charges });
      else byInvoice.set(charges[0].invoiceId, [{ event, charges }]);
    }
    for (const [invoiceId, group] of byInvoice) {
      const rated = await this.invoices.rateChargesBatch(
        tx,
        invoiceId,
        group.map(({ event, charges }) => ({
          charges,
          meta: {
            correlationId: event.correlationId,
            causationId: event.eventId,
            tenantId: charges[0].tenantId,
          },
        })),
      );
      if (!Array.isArray(rated)) for (const { event } of group) oneByOne.push(event);
    }
    for (const event of oneByOne) await this.rate(event, tx);
  }

  private async applyLeaseEvent(event: EventEnvelope, tx: Queryable): Promise<void> {
    const terms = await applyLeaseEvent(tx, event, this.billing.store.schema);
    if (!terms) {
      this.logger.warn(
        `${event.type} for unknown lease ${(event.payload as { leaseId: string }).leaseId}: ignored`,
      );
      return;
    }
    await this.retryHeld(tx, { leaseId: terms.leaseId });
  }

  private async rate(event: UsageEvent, tx: Queryable): Promise<void> {
    const usage = event.payload;
    const lease = await this.billing.lease(tx, usage.leaseId);
    if (!lease)
      return this.hold(
        tx,
        event,
        'pending',
        'unknown-lease',
        `lease ${usage.leaseId} not known to billing yet`,
      );
    // The plan the lease had at the usage hour: an amendment changes it from its effective date on.
    const plans = await this.billing.planVersions(tx, ratePlanIdAt(lease, Date.parse(usage.hourStart)));
    const corrected = event.type === metering.UsageCorrected.type;
    const charges =
      event.type === metering.UsageCorrected.type
        ? rateCorrection({ eventId: event.eventId, payload: event.payload }, plans, lease)
        : rateUsage({ eventId: event.eventId, payload: event.payload }, plans, lease);
    if (!Array.isArray(charges)) return this.hold(tx, event, 'pending', charges.reason, charges.detail);
    if (charges.length === 0) return;
    if (corrected) await this.followOriginalInvoice(tx, charges);
    const meta: AppendMeta = {
      correlationId: event.correlationId,
      causationId: event.eventId,
      tenantId: usage.tenantId,
    };
    const at =
      event.type === metering.UsageCorrected.type ? event.payload.correctedAt : event.payload.closedAt;
    let outcome;
    try {
      outcome = await this.invoices.settleAdjustments(tx, charges, at, meta);
    } catch (error) {
      // A rejection (say the month the correction lands in is final too) must not stall the consumer on
      // redeliveries: the usage is held, visibly, with the reason. Outages and bugs still roll the batch back.
      if (!(error instanceof ServiceError)) throw error;
      return this.hold(tx, event, 'pending', error.code, error.message);
    }
    if (outcome === 'absorbed') {
      await this.hold(
        tx,
        event,
        'absorbed',
        'correction-absorbed',
        'the correction changes no amount: absorbed by the take-or-pay minimum',
      );
    }
  }

  /**
   * A correction is settled against the invoice its original charge is on, even if the lease changed since
   * (an amendment that moved the term end decides where new usage goes, not where old usage was billed).
   */
  private async followOriginalInvoice(tx: Queryable, charges: ChargeRated[]): Promise<void> {
    const originals = new Map(
      (
        await tx.query<{ charge_id: string; invoice_id: string }[]>(
          `SELECT charge_id, invoice_id FROM billing.charges WHERE charge_id = ANY($1::text[])`,
          [charges.map((charge) => charge.adjustsChargeId).filter(Boolean)],
        )
      ).map((row) => [row.charge_id, row.invoice_id]),
    );
    for (const [index, charge] of charges.entries()) {
      const invoiceId = charge.adjustsChargeId && originals.get(charge.adjustsChargeId);
      if (invoiceId && invoiceId !== charge.invoiceId) charges[index] = { ...charge, invoiceId };
    }
  }

  private async hold(
    tx: Queryable,
    event: UsageEvent,
    status: 'pending' | 'absorbed',
    reason: string,
    detail: string,
  ): Promise<void> {
    const usage = event.payload;
    await tx.query(
      `INSERT INTO billing.usage_holds (event_id, lease_id, tenant_id, status, reason, detail, envelope) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (event_id) DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason, detail = EXCLUDED.detail`,
      [event.eventId, usage.leaseId, usage.tenantId, status, reason, detail, JSON.stringify(event)],
    );
  }

  /** Rates held usage of one lease, or of every lease on one rate plan, again. */
  async retryHeld(tx: Queryable, scope: { leaseId: string } | { ratePlanId: string }): Promise<void> {
    const rows =
      'leaseId' in scope
        ? await tx.query<{ envelope: EventEnvelope }[]>(
            `SELECT envelope FROM billing.usage_holds WHERE status = 'pending' AND lease_id = $1 ORDER BY event_id`,
            [scope.leaseId],
          )
        : await tx.query<{ envelope: EventEnvelope }[]>(
            `SELECT h.envelope FROM billing.usage_holds h JOIN billing.leases l ON l.lease_id = h.lease_id
              WHERE h.status = 'pending'
                AND (l.terms->>'ratePlanId' = $1 OR l.terms->'schedule' @> jsonb_build_array(jsonb_build_object('ratePlanId', $1::text)))
              ORDER BY h.event_id`,
            [scope.ratePlanId],
          );
    for (const { envelope } of rows) {
      await tx.query(`DELETE FROM billing.usage_holds WHERE event_id = $1`, [envelope.eventId]);
      // Only usage is ever held (hold takes a UsageEvent).
      if (isUsageEvent(envelope)) await this.rate(envelope, tx);
    }
  }
}
