import { evolveLeaseTerms, LeaseEvent, LeaseTerms } from './leases';
import { proratedMinimumMinor } from './commitments';

const signed: LeaseEvent = {
  type: 'allocation.LeaseSigned',
  eventId: 'e-signed',
  payload: {
    leaseId: 'L1',
    tenantId: 'tenant-a',
    term: { start: '2026-11-16T00:00:00.000Z', end: '2027-11-16T00:00:00.000Z' },
    committedGpus: { H100: 10 },
    exclusivity: 'exclusive',
    scope: { hallIds: ['hall-1'], rackIds: [] },
    ratePlanId: 'usd-standard',
    signedAt: '2026-11-01T00:00:00.000Z',
    author: 'sales',
  },
};
const terminated = (at: string): LeaseEvent => ({
  type: 'allocation.LeaseTerminated',
  eventId: 'e-terminated',
  payload: {
    leaseId: 'L1',
    tenantId: 'tenant-a',
    terminatedAt: at,
    reason: 'customer exit',
    author: 'sales',
  },
});
const fold = (events: LeaseEvent[]) => events.reduce<LeaseTerms | undefined>(evolveLeaseTerms, undefined);

describe("billing's view of a lease", () => {
  it.each([
    ['signed mid-November: half a month of minimum', [signed], '2026-11', 500_000n],
    [
      'terminated on 2026-11-26: ten days of minimum',
      [signed, terminated('2026-11-26T00:00:00.000Z')],
      '2026-11',
      333_333n,
    ],
    [
      'terminated before it started: nothing',
      [signed, terminated('2026-11-01T00:00:00.000Z')],
      '2026-11',
      0n,
    ],
    [
      'a termination after the term end changes nothing',
      [signed, terminated('2028-01-01T00:00:00.000Z')],
      '2027-11',
      500_000n,
    ],
  ] as const)('%s', (_case, events, period, expectedMinimum) => {
    const terms = fold([...events]);
    expect(terms).toBeDefined();
    expect(proratedMinimumMinor(terms!.committedGpus.H100!, 100_000n, terms!.term, period)).toBe(
      expectedMinimum,
    );
  });

  it('keeps every lease event it came from', () => {
    expect(fold([signed, terminated('2026-11-26T00:00:00.000Z')])?.sourceEventIds).toEqual([
      'e-signed',
      'e-terminated',
    ]);
  });

  it('ignores a termination of a lease it never saw signed', () => {
    expect(fold([terminated('2026-11-26T00:00:00.000Z')])).toBeUndefined();
  });
});
