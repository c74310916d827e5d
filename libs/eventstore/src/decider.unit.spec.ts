import { Decider, deciderSpecification, evolveAll, isRejected } from './decider';

type Event = { type: 'Added'; payload: { n: number } };
type Command = { add: number };

/** A counter that refuses to go above 10: enough rules to show what the specification checks. */
const counter: Decider<number, Command, Event, 'too-much'> = {
  initialState: () => 0,
  evolve: (total, event) => total + event.payload.n,
  decide: (total, command) =>
    total + command.add > 10
      ? { kind: 'rejected', reason: 'too-much', detail: `${total} + ${command.add} > 10` }
      : [{ type: 'Added', payload: { n: command.add } }],
};
const given = deciderSpecification(counter);
const added = (n: number): Event => ({ type: 'Added', payload: { n } });

describe('deciderSpecification', () => {
  it('folds the given events and compares the decided events', () => {
    given([added(4), added(5)])
      .when({ add: 1 })
      .then([added(1)]);
  });

  it('fails when the decided events differ from the expected ones', () => {
    expect(() =>
      given([])
        .when({ add: 2 })
        .then([added(3)]),
    ).toThrow();
  });

  it('fails when events were expected and the command was rejected, saying why', () => {
    expect(() =>
      given([added(10)])
        .when({ add: 1 })
        .then([added(1)]),
    ).toThrow(/too-much/);
  });

  it('checks the rejection reason and detail', () => {
    given([added(9)])
      .when({ add: 2 })
      .thenRejects('too-much', /9 \+ 2/);
    expect(() =>
      given([added(9)])
        .when({ add: 2 })
        .thenRejects('too-much', /nothing like it/),
    ).toThrow();
    expect(() => given([]).when({ add: 2 }).thenRejects('too-much')).toThrow(/accepted/);
  });
});

describe('isRejected / evolveAll', () => {
  it('tells an empty decision (nothing to do) from a rejection', () => {
    expect(isRejected([])).toBe(false);
    expect(isRejected({ kind: 'rejected', reason: 'x', detail: 'y' })).toBe(true);
  });

  it('folds from the initial state or from a given one', () => {
    expect(evolveAll(counter, [added(2), added(3)])).toBe(5);
    expect(evolveAll(counter, [added(2)], 7)).toBe(9);
  });
});
