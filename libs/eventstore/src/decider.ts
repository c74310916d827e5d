import { deepStrictEqual } from 'node:assert/strict';
import { isRejection, Rejection } from '@fleetledger/contracts';

/** What a decider answers: the events the command causes (none: already as asked), or why not. */
export type Decision<Event, Reason extends string = string> = readonly Event[] | Rejection<Reason>;

/** A rejection, told apart from a list of events (libs/contracts' `Rejection`, the one every service uses). */
export function isRejected<Event, Reason extends string>(
  decision: Decision<Event, Reason>,
): decision is Rejection<Reason> {
  return isRejection(decision);
}

/**
 * One aggregate's business rules as three pure functions (the "decider" of Emmett and of Jérémie
 * Chassaing's pattern): no database, no clock, no Kafka, so they are tested as plain functions.
 *
 * - `initialState()`: the state before any event (a new object on every call).
 * - `evolve(state, event)`: the state after one event. It may change `state` in place and return it
 *   (inventory's and allocation's states are large maps), so a caller that needs the old state keeps
 *   its own copy; it must not read anything but its arguments.
 * - `decide(state, command)`: the events the command causes, or a rejection with a reason. It must
 *   not change `state`: what-ifs run on a copy.
 *
 * libs/eventstore's `handleCommand` does the I/O around it (load, decide, append with the expected
 * version, inline projections, retry on conflict).
 */
export interface Decider<State, Command, Event, Reason extends string = string> {
  initialState(): State;
  evolve(state: State, event: Event): State;
  decide(state: State, command: Command): Decision<Event, Reason>;
}

/** Folds events into a state, starting from the decider's initial state unless one is given. */
export function evolveAll<State, Event>(
  decider: Pick<Decider<State, unknown, Event>, 'initialState' | 'evolve'>,
  events: readonly Event[],
  state: State = decider.initialState(),
): State {
  return events.reduce((current, event) => decider.evolve(current, event), state);
}

/**
 * Given / when / then for deciders, as Emmett's `DeciderSpecification` offers:
 *
 *   const given = deciderSpecification(inventoryDecider);
 *   given([siteRegistered]).when(registerHall).then([hallRegistered]);
 *   given([]).when(registerHall).thenRejects('unknown-site');
 *
 * The given events are folded with `evolve`, the command decided once; `then` compares the events
 * (deep equality), `thenRejects` the reason (and, when given, a pattern the detail must match).
 * A failure throws an AssertionError, so these are assertions inside any test runner.
 */
export function deciderSpecification<State, Command, Event, Reason extends string>(
  decider: Decider<State, Command, Event, Reason>,
) {
  return (givenEvents: readonly Event[]) => ({
    when(command: Command) {
      const decision = decider.decide(evolveAll(decider, givenEvents), command);
      return {
        /** The decision itself, for assertions the two below do not cover. */
        decision,
        then(expected: readonly Event[]): void {
          if (isRejected(decision))
            throw new Error(
              `expected events, the command was rejected: ${decision.reason} (${decision.detail})`,
            );
          deepStrictEqual([...decision], [...expected]);
        },
        thenRejects(reason: Reason, detail?: RegExp): void {
          if (!isRejected(decision))
            throw new Error(
              `expected rejection ${reason}, the command was accepted with ${decision.length} event(s)`,
            );
          deepStrictEqual(decision.reason, reason, `rejected for ${decision.reason}: ${decision.detail}`);
          if (detail && !detail.test(decision.detail))
            throw new Error(`rejection detail ${JSON.stringify(decision.detail)} does not match ${detail}`);
        },
      };
    },
  });
}
