import { allocation, NewEvent } from '@fleetledger/contracts';
import { laterOf } from './command-time';
import { queueSteps } from './queue';
import { isRejection, Rejection } from './rejection';
import { AllocationState, evolve } from './state';
import { applyLedgerSteps, onLedger, Steps, StreamEvents } from './steps';
import { decideRelease, decideSubmit, decideWithdraw, evictionSteps, leaseEndSteps } from './workload';

/**
 * The placement ledger's commands as the engine runs them: each decided (pure) and then applied to
 * the state, step by step. `*Steps` are what the engine runs; `run*` decide and apply at once, for
 * the domain tests and the benchmark.
 */

/** A release frees GPUs: the queue is re-driven after it. */
export function releaseSteps(
  state: AllocationState,
  workloadId: string,
  at: string,
): Steps | Rejection<'not-placed' | 'stale-command'> {
  const released = decideRelease(state, workloadId, at);
  return isRejection(released) ? released : thenQueue(onLedger(released), state, at);
}

/**
 * A change outside the ledger that can change an answer (quota, lease signed / activated / amended,
 * routing policy): its events, then the queue re-driven, never before the ledger's latest decision.
 */
export function* redriveSteps(state: AllocationState, change: StreamEvents, at: string): Steps {
  yield change;
  yield* queueSteps(state, laterOf(at, state.ledgerAt));
}

function* thenQueue(first: StreamEvents, state: AllocationState, at: string): Steps {
  yield first;
  yield* queueSteps(state, at);
}

function applied<R extends Rejection>(state: AllocationState, steps: Steps | R): NewEvent[] | R {
  return isRejection(steps) ? steps : applyLedgerSteps(state, steps);
}

export function runSubmit(state: AllocationState, request: allocation.WorkloadRequest, at: string) {
  return appliedEvents(state, decideSubmit(state, request, at));
}

export function runWithdraw(state: AllocationState, workloadId: string, at: string, reason?: string) {
  return appliedEvents(state, decideWithdraw(state, workloadId, at, reason));
}

/** A single decision's events, applied (what the engine does with them). */
function appliedEvents<R extends Rejection>(state: AllocationState, decided: NewEvent[] | R): NewEvent[] | R {
  if (!isRejection(decided)) for (const event of decided) evolve(state, event);
  return decided;
}

export function runRelease(state: AllocationState, workloadId: string, at: string) {
  return applied(state, releaseSteps(state, workloadId, at));
}

export function runQueue(state: AllocationState, at: string): NewEvent[] {
  return applyLedgerSteps(state, queueSteps(state, at));
}

export function runEvictions(state: AllocationState, gpuIds: readonly string[], at: string): NewEvent[] {
  return applyLedgerSteps(state, evictionSteps(state, gpuIds, at));
}

export function runLeaseEnds(state: AllocationState, at: string, only?: ReadonlySet<string>): NewEvent[] {
  return applyLedgerSteps(state, leaseEndSteps(state, at, only));
}

/** Applies a change's events (quota, lease, routing), then re-drives the queue; returns the ledger's events. */
export function redriveAfter(state: AllocationState, events: readonly NewEvent[], at: string): NewEvent[] {
  for (const event of events) evolve(state, event);
  return runQueue(state, laterOf(at, state.ledgerAt));
}
