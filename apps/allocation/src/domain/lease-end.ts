import { allocation, NewEvent } from '@fleetledger/contracts';
import { decideExpireDue, decideLease, FleetFacts, LeaseCommand } from './lease';
import { runLeaseEnds } from './placement';
import { isRejection, Rejection } from './rejection';
import { AllocationState, evolve } from './state';

/**
 * A lease's end touches two streams: the lease (`lease-book`) and the workloads it held
 * (`placement-ledger`). These run both steps on the state and return the events of each stream;
 * the service appends them in one transaction.
 */
export interface LeaseEndEvents {
  leaseBook: NewEvent[];
  ledger: NewEvent[];
}

/**
 * "Expire due leases" at `at` (an operator or a cron calls it): every lease whose term ended by `at`
 * expires (LeaseExpired, fence lifted), then every placement on a lease that has ended is evicted
 * (`lease-ended`) and placed again under another lease of its tenant or rejected, queued workloads
 * no lease can take are rejected, and the queue runs.
 */
export function runExpireDue(state: AllocationState, at: string, author: string): LeaseEndEvents {
  const leaseBook = decideExpireDue(state.leases, at, author);
  for (const event of leaseBook) evolve(state, event);
  return { leaseBook, ledger: runLeaseEnds(state, at) };
}

/** Terminate: LeaseTerminated, then the lease's placements end at `at` as for an expiry (only that lease's). */
export function runTerminate(
  state: AllocationState,
  command: Extract<LeaseCommand, { kind: 'terminate' }>,
  fleet: FleetFacts,
): LeaseEndEvents | Rejection {
  const leaseBook = decideLease(state.leases, command, fleet);
  if (isRejection(leaseBook)) return leaseBook;
  for (const event of leaseBook) evolve(state, event);
  const lease = state.leases.get(command.leaseId);
  return {
    leaseBook,
    ledger: lease ? runLeaseEnds(state, command.at, new Set([lease.leaseId])) : [],
  };
}

export const leaseEndStreams = (events: LeaseEndEvents) => [
  { streamId: allocation.AllocationStreams.leaseBook, events: events.leaseBook },
  { streamId: allocation.AllocationStreams.placementLedger, events: events.ledger },
];
