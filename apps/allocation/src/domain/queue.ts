import { PlacementDecision } from './candidate';
import { decidePlacement, placementEvents } from './placement';
import { AllocationState, SubmittedWorkload } from './state';
import { onLedger, Steps } from './steps';

/**
 * The queue's order: highest priority first, then earliest submission, then submission order. The
 * read model (`GET /queue`, queue positions) orders the same way.
 */
export function queueOrder(state: AllocationState): (a: SubmittedWorkload, b: SubmittedWorkload) => number {
  const seq = (w: SubmittedWorkload) => state.workloads.get(w.workloadId)?.seq ?? 0;
  return (a, b) =>
    b.priority - a.priority || Date.parse(a.submittedAt) - Date.parse(b.submittedAt) || seq(a) - seq(b);
}

/** Queued workloads in the order they are tried. */
export function queuedInOrder(state: AllocationState): SubmittedWorkload[] {
  return [...state.queue.values()].sort(queueOrder(state));
}

/** Placement passes over the queue at most per re-drive (a pass that places nothing ends it sooner). */
const MAX_QUEUE_PASSES = 4;

/**
 * Re-drives the queue (issue #15, 4): decides every queued workload again in queue order, a step for
 * each workload whose answer changed (applied before the next is decided). Placements first, pass after pass while a pass places something (a
 * preempted victim queued in one pass is tried in the next). Then, from the last pass's decisions
 * (made on the state as it is now): work that can now never run (a quota lowered below the request,
 * a fence extended past the lease) is rejected with its reason, and work that still waits gets a new
 * WorkloadQueued only when its reason or detail changed, so the read model always says what it waits
 * for now, and nothing is written when nothing changed.
 */
export function* queueSteps(state: AllocationState, at: string): Steps {
  let unplaced: { request: SubmittedWorkload; decision: PlacementDecision }[] = [];
  for (let pass = 0; pass < MAX_QUEUE_PASSES; pass++) {
    unplaced = [];
    let placedAny = false;
    for (const request of queuedInOrder(state)) {
      if (!state.queue.has(request.workloadId)) continue;
      const decision = decidePlacement(state, request, at);
      if (decision.kind === 'unplaced') {
        unplaced.push({ request, decision });
        continue;
      }
      yield onLedger(placementEvents(request, decision, at));
      placedAny = true;
    }
    if (!placedAny) break;
  }
  for (const { request, decision } of unplaced) {
    if (decision.kind !== 'unplaced' || !state.queue.has(request.workloadId)) continue;
    const record = state.workloads.get(request.workloadId);
    if (
      decision.outcome === 'queued' &&
      record?.reason === decision.reason &&
      record.detail === decision.detail
    )
      continue;
    yield onLedger(placementEvents(request, decision, at));
  }
}
