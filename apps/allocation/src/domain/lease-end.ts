import { allocation, NewEvent } from '@fleetledger/contracts';
import { decideExpireDue, decideLease, FleetFacts, LeaseCommand } from './lease';
import { checkCommandTime } from './command-time';
import { isRejection, Rejection } from './rejection';
import { AllocationState } from './state';
import { applySteps, Steps } from './steps';
import { leaseEndSteps } from './workload';

/**
 * A lease's end touches two streams: the lease (`lease-book`) and the workloads it held
 * (`placement-ledger`). These decide both, in steps (the lease's events first, applied before its
 * placements are decided); the service appends them in one transaction.
 */
const S = allocation.AllocationStreams;

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
export function* expireDueSteps(state: AllocationState, at: string, author: string): Steps {
  yield { streamId: S.leaseBook, events: decideExpireDue(state.leases, at, author) };
  yield* leaseEndSteps(state, at);
}

/** Terminate: LeaseTerminated, then the lease's placements end at `at` as for an expiry (only that lease's). */
export function terminateSteps(
  state: AllocationState,
  command: Extract<LeaseCommand, { kind: 'terminate' }>,
  fleet: FleetFacts,
): Steps | Rejection {
  // A termination ends placements at `command.at` (placement ledger): like any ledger command it may not reach
  // behind the ledger's latest decision or the published watermark (#15, #22), or metering would be told a past
  // it has already closed was different.
  const stale = checkCommandTime(state, command.at);
  if (stale) return stale;
  const leaseBook = decideLease(state.leases, command, fleet);
  return isRejection(leaseBook) ? leaseBook : terminated(state, leaseBook, command);
}

function* terminated(
  state: AllocationState,
  leaseBook: NewEvent[],
  command: { leaseId: string; at: string },
): Steps {
  yield { streamId: S.leaseBook, events: leaseBook };
  if (state.leases.has(command.leaseId)) yield* leaseEndSteps(state, command.at, new Set([command.leaseId]));
}

/** Both streams' events of lease-end steps, applied to the state (the domain tests' way to run them). */
export function applyLeaseEnd(state: AllocationState, steps: Steps): LeaseEndEvents {
  const streams = applySteps(state, steps);
  const of = (streamId: string) => streams.find((s) => s.streamId === streamId)?.events ?? [];
  return { leaseBook: of(S.leaseBook), ledger: of(S.placementLedger) };
}

export function runExpireDue(state: AllocationState, at: string, author: string): LeaseEndEvents {
  return applyLeaseEnd(state, expireDueSteps(state, at, author));
}

export function runTerminate(
  state: AllocationState,
  command: Extract<LeaseCommand, { kind: 'terminate' }>,
  fleet: FleetFacts,
): LeaseEndEvents | Rejection {
  const steps = terminateSteps(state, command, fleet);
  return isRejection(steps) ? steps : applyLeaseEnd(state, steps);
}
