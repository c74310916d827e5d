import type { allocation } from '@fleetledger/contracts';
import { Interval } from './periods';

/** What billing needs to know of a lease, folded from allocation's lease events. */
export interface LeaseTerms {
  leaseId: string;
  tenantId: string;
  ratePlanId: string;
  term: Interval;
  committedGpus: Partial<Record<string, number>>;
  /** The allocation events these terms came from (signed, amended, terminated). */
  sourceEventIds: string[];
}

export type LeaseEvent =
  | { type: 'allocation.LeaseSigned'; eventId: string; payload: allocation.LeaseSignedPayload }
  | { type: 'allocation.LeaseAmended'; eventId: string; payload: allocation.LeaseAmendedPayload }
  | { type: 'allocation.LeaseTerminated'; eventId: string; payload: allocation.LeaseTerminatedPayload };

/** evolve for billing's view of a lease. An early termination ends the term (proration at term end). */
export function evolveLeaseTerms(terms: LeaseTerms | undefined, event: LeaseEvent): LeaseTerms | undefined {
  switch (event.type) {
    case 'allocation.LeaseSigned':
      return {
        leaseId: event.payload.leaseId,
        tenantId: event.payload.tenantId,
        ratePlanId: event.payload.ratePlanId,
        term: { startMs: Date.parse(event.payload.term.start), endMs: Date.parse(event.payload.term.end) },
        committedGpus: { ...event.payload.committedGpus },
        sourceEventIds: [event.eventId],
      };
    case 'allocation.LeaseAmended':
      if (!terms) return terms;
      return {
        ...terms,
        ratePlanId: event.payload.ratePlanId,
        term: { startMs: Date.parse(event.payload.term.start), endMs: Date.parse(event.payload.term.end) },
        committedGpus: { ...event.payload.committedGpus },
        sourceEventIds: [...terms.sourceEventIds, event.eventId],
      };
    case 'allocation.LeaseTerminated': {
      if (!terms) return terms;
      const terminatedMs = Date.parse(event.payload.terminatedAt);
      return {
        ...terms,
        term: {
          startMs: terms.term.startMs,
          endMs: Math.min(terms.term.endMs, Math.max(terms.term.startMs, terminatedMs)),
        },
        sourceEventIds: [...terms.sourceEventIds, event.eventId],
      };
    }
  }
}
