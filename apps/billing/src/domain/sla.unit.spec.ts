import { applicableTier, availabilityBasisPoints, slaCreditMinor } from './sla';
import { usdPlan } from '../../test/fixtures';

const tiers = usdPlan().slaCreditTiers; // < 99.90 % -> 10 %, < 99 % -> 25 %, < 95 % -> 50 %

describe('SLA credits by tier', () => {
  it.each([
    ['fully available', 1_000_000n, 0n, 10_000, undefined],
    ['exactly 99.90 % is not below the first threshold', 1_000_000n, 1_000n, 9_990, undefined],
    ['99.899 % rounds down into the 10 % tier', 1_000_000n, 1_010n, 9_989, 1000],
    ['98.5 % earns 25 %', 1_000_000n, 15_000n, 9_850, 2500],
    ['90 % earns 50 %', 1_000_000n, 100_000n, 9_000, 5000],
    ['more unavailable than committed caps at 0 %', 1_000n, 5_000n, 0, 5000],
  ])('%s', (_case, committed, unavailable, expectedAvailability, expectedCredit) => {
    const availability = availabilityBasisPoints(committed, unavailable);
    expect(availability).toBe(expectedAvailability);
    expect(applicableTier(tiers, availability)?.creditBasisPoints).toBe(expectedCredit);
  });

  it.each([
    ['10 % of 1,200,000', 1_200_000n, 1000, 120_000n],
    ['25 % of 3 cents = 0.75 -> 1', 3n, 2500, 1n],
    ['50 % of 5 cents = 2.5 -> 2 (tie to even)', 5n, 5000, 2n],
  ])('credit amount: %s', (_case, base, bp, expected) => {
    expect(slaCreditMinor(base, bp)).toBe(expected);
  });
});
