import { allocation, NewEvent } from '@fleetledger/contracts';
import { AllocationState, evolve } from './state';

/** The events one step of a decision appends to one stream. */
export interface StreamEvents {
  streamId: string;
  events: NewEvent[];
}

/**
 * A decision taken in steps, where each step depends on the one before (drain the queue: one
 * workload placed changes what the next one finds; evict, then place again). Each step reads the
 * state and yields its events; whoever runs the steps applies each step's events with `evolve`
 * before asking for the next. A step never changes the state itself: the state changes only by
 * applying decided events, in the engine as on replay.
 */
export type Steps = Generator<StreamEvents, void, undefined>;

/** One step on the placement ledger. */
export const onLedger = (events: NewEvent[]): StreamEvents => ({
  streamId: allocation.AllocationStreams.placementLedger,
  events,
});

/**
 * Runs steps to the end, applying each step's events to the state before the next; returns the events
 * per stream, streams in the order they first appear.
 */
export function applySteps(state: AllocationState, steps: Iterable<StreamEvents>): StreamEvents[] {
  const byStream: StreamEvents[] = []; // one or two streams: a scan beats a Map here
  for (const { streamId, events } of steps) {
    for (const event of events) evolve(state, event);
    const existing = byStream.find((stream) => stream.streamId === streamId);
    if (existing) existing.events.push(...events);
    else byStream.push({ streamId, events: [...events] });
  }
  return byStream;
}

/** The events of steps that all go to the placement ledger, applied. */
export function applyLedgerSteps(state: AllocationState, steps: Iterable<StreamEvents>): NewEvent[] {
  return applySteps(state, steps).flatMap(({ events }) => events);
}
