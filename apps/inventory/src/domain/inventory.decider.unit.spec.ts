import { inventory } from '@fleetledger/contracts';
import { deciderSpecification } from '@fleetledger/eventstore/decider';
import { inventoryDecider } from './inventory.decider';

/** The inventory decider as given (events) / when (command) / then (events or rejection). */
const given = deciderSpecification(inventoryDecider);

const site: inventory.InventoryEvent = {
  type: 'inventory.SiteRegistered',
  payload: { siteId: 'col1', name: 'Colossus 1', powerCapW: 300_000 },
};
const hall: inventory.InventoryEvent = {
  type: 'inventory.HallRegistered',
  payload: { hallId: 'col1-h01', siteId: 'col1', name: 'Hall 1', powerCapW: 100_000 },
};

describe('inventory decider (given / when / then)', () => {
  // then/thenRejects throw with what differed: each case expects no throw.
  it('a hall is registered in a known site', () => {
    expect(() =>
      given([site])
        .when({
          kind: 'register-hall',
          body: { hallId: 'col1-h01', siteId: 'col1', name: 'Hall 1', powerCapW: 100_000 },
        })
        .then([hall]),
    ).not.toThrow();
  });

  it('a hall in a site nobody registered is refused, naming the site', () => {
    expect(() =>
      given([])
        .when({
          kind: 'register-hall',
          body: { hallId: 'col1-h01', siteId: 'col1', name: 'Hall 1', powerCapW: 100_000 },
        })
        .thenRejects('unknown-site', /col1/),
    ).not.toThrow();
  });

  it('registering the same hall again changes nothing', () => {
    expect(() =>
      given([site, hall])
        .when({
          kind: 'register-hall',
          body: { hallId: 'col1-h01', siteId: 'col1', name: 'Hall 1', powerCapW: 100_000 },
        })
        .then([]),
    ).not.toThrow();
  });

  it('the same hall id with another cap is refused as already registered', () => {
    expect(() =>
      given([site, hall])
        .when({
          kind: 'register-hall',
          body: { hallId: 'col1-h01', siteId: 'col1', name: 'Hall 1', powerCapW: 90_000 },
        })
        .thenRejects('already-registered'),
    ).not.toThrow();
  });

  it('a hall budget change is decided on the state the given events left (cap read from HallRegistered)', () => {
    expect(() =>
      given([site, hall])
        .when({
          kind: 'change-power-budget',
          body: { scope: 'hall', scopeId: 'col1-h01', budgetW: 80_000, reason: 'cooling work' },
        })
        .then([
          {
            type: 'inventory.PowerBudgetChanged',
            payload: {
              scope: 'hall',
              scopeId: 'col1-h01',
              siteId: 'col1',
              hallId: 'col1-h01',
              fromW: 100_000,
              toW: 80_000,
              reason: 'cooling work',
            },
          },
        ]),
    ).not.toThrow();
  });
});
