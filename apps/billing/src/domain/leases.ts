import type { allocation } from '@fleetledger/contracts';
import { Interval } from './periods';

export type CommittedGpus = Partial<Record<string, number>>;

/**
 * What a lease commits from an instant on: an amendment is "the lease as it stands after it, effective from
 * `effectiveAt`", so billing keeps the commitment as a schedule of such steps instead of overwriting it.
 */
export interface CommitmentStep {
  fromMs: number;
  committedGpus: CommittedGpus;
  ratePlanId: string;
  /** The signing or amending event this step came from. */
  sourceEventId: string;
}

/** A piece of the term with one commitment and one rate plan: [startMs, endMs). */
export interface CommitmentSegment extends Interval {
  committedGpus: CommittedGpus;
  ratePlanId: string;
  sourceEventId: string;
}

export interface LeaseScope {
  hallIds: string[];
  rackIds: string[];
}

/** What billing needs to know of a lease, folded from allocation's lease events. */
export interface LeaseTerms {
  leaseId: string;
  tenantId: string;
  /** The plan as the latest event states it (see `schedule` for what was in effect when). */
  ratePlanId: string;
  term: Interval;
  /** As the latest event states them (see `schedule`). */
  committedGpus: CommittedGpus;
  /** The allocation events these terms came from (signed, amended, terminated). */
  sourceEventIds: string[];
  /** Absent in terms stored before billing knew exclusivity: they count as shared. */
  exclusivity?: 'exclusive' | 'shared';
  scope?: LeaseScope;
  /** Commitments over time, ordered by `fromMs`. Absent in terms stored before amendments were dated. */
  schedule?: CommitmentStep[];
  /**
   * The term end as signed or amended, without an early termination: what decides a term-end invoice (see
   * `termEndsWithin`). Absent in terms stored before term-end invoices: those are invoiced monthly.
   */
  contractEndMs?: number;
}

export type LeaseEvent =
  | { type: 'allocation.LeaseSigned'; eventId: string; payload: allocation.LeaseSignedPayload }
  | { type: 'allocation.LeaseAmended'; eventId: string; payload: allocation.LeaseAmendedPayload }
  | { type: 'allocation.LeaseTerminated'; eventId: string; payload: allocation.LeaseTerminatedPayload };

/**
 * evolve for billing's view of a lease. An early termination ends the term (proration at term end). An
 * amendment takes effect at its `effectiveAt`: commitments and rate plan before it stay as they were, from it on
 * they are the amendment's (an amendment effective before an earlier one's date replaces that one from there).
 */
export function evolveLeaseTerms(terms: LeaseTerms | undefined, event: LeaseEvent): LeaseTerms | undefined {
  switch (event.type) {
    case 'allocation.LeaseSigned': {
      const term = {
        startMs: Date.parse(event.payload.term.start),
        endMs: Date.parse(event.payload.term.end),
      };
      return {
        leaseId: event.payload.leaseId,
        tenantId: event.payload.tenantId,
        ratePlanId: event.payload.ratePlanId,
        term,
        committedGpus: { ...event.payload.committedGpus },
        sourceEventIds: [event.eventId],
        contractEndMs: term.endMs,
        exclusivity: event.payload.exclusivity,
        scope: { hallIds: [...event.payload.scope.hallIds], rackIds: [...event.payload.scope.rackIds] },
        schedule: [
          {
            fromMs: term.startMs,
            committedGpus: { ...event.payload.committedGpus },
            ratePlanId: event.payload.ratePlanId,
            sourceEventId: event.eventId,
          },
        ],
      };
    }
    case 'allocation.LeaseAmended': {
      if (!terms) return terms;
      const effectiveMs = Date.parse(event.payload.effectiveAt);
      const kept = scheduleOf(terms).filter((step) => step.fromMs < effectiveMs);
      const endMs = Date.parse(event.payload.term.end);
      return {
        ...terms,
        ratePlanId: event.payload.ratePlanId,
        term: { startMs: Date.parse(event.payload.term.start), endMs },
        contractEndMs: endMs,
        committedGpus: { ...event.payload.committedGpus },
        sourceEventIds: [...terms.sourceEventIds, event.eventId],
        scope: { hallIds: [...event.payload.scope.hallIds], rackIds: [...event.payload.scope.rackIds] },
        schedule: [
          ...kept,
          {
            fromMs: effectiveMs,
            committedGpus: { ...event.payload.committedGpus },
            ratePlanId: event.payload.ratePlanId,
            sourceEventId: event.eventId,
          },
        ],
      };
    }
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

function scheduleOf(terms: LeaseTerms): CommitmentStep[] {
  return (
    terms.schedule ?? [
      {
        fromMs: terms.term.startMs,
        committedGpus: terms.committedGpus,
        ratePlanId: terms.ratePlanId,
        sourceEventId: terms.sourceEventIds[0],
      },
    ]
  );
}

/**
 * The lease's term cut into pieces of constant commitment and plan, clipped to `within` (default: the whole
 * term). The first step covers the term from its start even when it was dated later (an amendment that moved
 * the start earlier), so every second of the term has exactly one commitment.
 */
export function commitmentSegments(terms: LeaseTerms, within?: Interval): CommitmentSegment[] {
  const startMs = Math.max(terms.term.startMs, within?.startMs ?? -Infinity);
  const endMs = Math.min(terms.term.endMs, within?.endMs ?? Infinity);
  if (endMs <= startMs) return [];
  const steps = scheduleOf(terms);
  const segments: CommitmentSegment[] = [];
  steps.forEach((step, index) => {
    const from = index === 0 ? -Infinity : step.fromMs;
    const to = index + 1 < steps.length ? steps[index + 1].fromMs : Infinity;
    const segmentStart = Math.max(from, startMs);
    const segmentEnd = Math.min(to, endMs);
    if (segmentEnd <= segmentStart) return;
    segments.push({
      startMs: segmentStart,
      endMs: segmentEnd,
      committedGpus: step.committedGpus,
      ratePlanId: step.ratePlanId,
      sourceEventId: step.sourceEventId,
    });
  });
  return segments;
}

/** The rate plan of the lease at an instant (the term's first plan before the term, its last after it). */
export function ratePlanIdAt(terms: LeaseTerms, atMs: number): string {
  const steps = scheduleOf(terms);
  let chosen = steps[0].ratePlanId;
  for (const step of steps) if (step.fromMs <= atMs) chosen = step.ratePlanId;
  return chosen;
}

/** Every plan the lease ever used: what rating and invoicing must load. */
export function ratePlanIdsOf(terms: LeaseTerms): string[] {
  return [...new Set([terms.ratePlanId, ...scheduleOf(terms).map((step) => step.ratePlanId)])];
}

/** GPU classes the lease commits in any segment within `within`. */
export function committedClasses(terms: LeaseTerms, within: Interval): string[] {
  const classes = new Set<string>();
  for (const segment of commitmentSegments(terms, within))
    for (const [gpuClass, gpus] of Object.entries(segment.committedGpus)) if (gpus) classes.add(gpuClass);
  return [...classes];
}

/**
 * A lease whose term (as signed or amended) ends inside a calendar month, not on its first instant, is invoiced
 * for that month on its own term-end invoice. An early termination does not move it: usage of the month is on the
 * monthly invoice by then, and the termination only ends the commitment (proration).
 */
export function termEndsWithin(terms: LeaseTerms, period: Interval): boolean {
  const endMs = terms.contractEndMs;
  return endMs !== undefined && endMs > period.startMs && endMs < period.endMs && endMs > terms.term.startMs;
}
