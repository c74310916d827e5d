import { allocation, EventEnvelope } from '@fleetledger/contracts';
import { ident, Projection, Queryable } from '@fleetledger/eventstore';
import { evolveLeaseTerms, LeaseEvent, LeaseTerms } from '../domain/leases';

/** The consumer that takes in metering's usage and allocation's lease events. */
export const USAGE_CONSUMER = 'billing-usage';

export const LEASE_EVENT_TYPES = new Set<string>([
  allocation.LeaseSigned.type,
  allocation.LeaseAmended.type,
  allocation.LeaseTerminated.type,
]);

/**
 * Applies one allocation lease event to billing's view of that lease (`leases`: the terms rating, commitments and
 * SLA read); returns the new terms, or undefined when the event names a lease billing never saw signed.
 */
export async function applyLeaseEvent(
  tx: Queryable,
  event: EventEnvelope,
  schema: string,
): Promise<LeaseTerms | undefined> {
  if (!LEASE_EVENT_TYPES.has(event.type)) return undefined;
  const s = ident(schema);
  const leaseEvent = { type: event.type, eventId: event.eventId, payload: event.payload } as LeaseEvent;
  const [row] = await tx.query<{ terms: LeaseTerms }[]>(`SELECT terms FROM ${s}.leases WHERE lease_id = $1`, [
    leaseEvent.payload.leaseId,
  ]);
  const terms = evolveLeaseTerms(row?.terms, leaseEvent);
  if (!terms) return undefined;
  await tx.query(
    `INSERT INTO ${s}.leases (lease_id, tenant_id, terms) VALUES ($1, $2, $3)
     ON CONFLICT (lease_id) DO UPDATE SET terms = EXCLUDED.terms`,
    [terms.leaseId, terms.tenantId, JSON.stringify(terms)],
  );
  return terms;
}

/**
 * Billing's leases, from the lease events the billing-usage consumer took in (so a replay of its inbox rebuilds
 * them exactly, as of any instant: the audit previews a replayed draft with the leases billing knew then).
 */
export const leasesProjection: Projection = {
  name: 'billing-leases',
  source: { kind: 'inbox', consumer: USAGE_CONSUMER },
  tables: ['leases'],
  eventTypes: LEASE_EVENT_TYPES,
  async apply(tx, event, schema) {
    await applyLeaseEvent(tx, event, schema);
  },
};
