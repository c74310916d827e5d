import {
  CommitmentSegment,
  commitmentSegments,
  evolveLeaseTerms,
  LeaseEvent,
  LeaseTerms,
  ratePlanIdAt,
  ratePlanIdsOf,
} from './leases';
import {
  committedMilliGpuSecondsOverSegments,
  proratedMinimumMinor,
  proratedMinimumOverSegmentsMinor,
} from './commitments';
import { periodBounds } from './periods';

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

describe('LeaseAmended takes effect at its effectiveAt', () => {
  const amended = (
    effectiveAt: string,
    committedGpus: Record<string, number>,
    eventId: string,
    ratePlanId = 'usd-standard',
  ): LeaseEvent => ({
    type: 'allocation.LeaseAmended',
    eventId,
    payload: {
      leaseId: 'L1',
      tenantId: 'tenant-a',
      term: { start: '2026-11-01T00:00:00.000Z', end: '2027-11-01T00:00:00.000Z' },
      committedGpus,
      scope: { hallIds: ['hall-1'], rackIds: [] },
      ratePlanId,
      previous: {
        term: { start: '2026-11-01T00:00:00.000Z', end: '2027-11-01T00:00:00.000Z' },
        committedGpus: { H100: 10 },
        ratePlanId: 'usd-standard',
      },
      effectiveAt,
      reason: 'expansion',
      author: 'sales',
    },
  });
  const fromNov1: LeaseEvent = {
    ...signed,
    payload: {
      ...signed.payload,
      term: { start: '2026-11-01T00:00:00.000Z', end: '2027-11-01T00:00:00.000Z' },
    },
  } as LeaseEvent;
  const fee = (_segment: CommitmentSegment) => 100_000n;
  const nov = periodBounds('2026-11');

  it.each([
    // 10 GPUs for 15 days + 20 GPUs for 15 days = 1.5 months of 10 GPUs
    ['doubled from Nov 16', [amended('2026-11-16T00:00:00.000Z', { H100: 20 }, 'a1')], 1_500_000n, 450n],
    // effective before the term: the amendment's values hold for the whole term
    [
      'effective from the term start',
      [amended('2026-11-01T00:00:00.000Z', { H100: 20 }, 'a1')],
      2_000_000n,
      600n,
    ],
    // effective next month: November keeps the signed commitment
    ['effective in December', [amended('2026-12-01T00:00:00.000Z', { H100: 20 }, 'a1')], 1_000_000n, 300n],
    // a later amendment dated before an earlier one's date replaces it from its own date on
    [
      'a back-dated second amendment replaces the first from its date',
      [
        amended('2026-11-21T00:00:00.000Z', { H100: 20 }, 'a1'),
        amended('2026-11-11T00:00:00.000Z', { H100: 13 }, 'a2'),
      ],
      // 10 GPUs x 10 days + 13 GPUs x 20 days = 360 GPU-days of 300 -> 1.2 months
      1_200_000n,
      360n,
    ],
  ] as const)('%s', (_case, amendments, minimum, committedGpuDays) => {
    const terms = fold([fromNov1, ...amendments])!;
    const segments = commitmentSegments(terms, nov);
    expect(proratedMinimumOverSegmentsMinor(segments, 'H100', fee, '2026-11')).toBe(minimum);
    // committed GPU-days x 86,400 s x 1000 (milli)
    expect(committedMilliGpuSecondsOverSegments(segments, 'H100', '2026-11')).toBe(
      committedGpuDays * 86_400n * 1000n,
    );
  });

  it('a new rate plan applies from the effective date: usage before it keeps the old plan', () => {
    const terms = fold([fromNov1, amended('2026-11-16T00:00:00.000Z', { H100: 10 }, 'a1', 'usd-premium')])!;
    expect(ratePlanIdAt(terms, Date.parse('2026-11-15T23:00:00.000Z'))).toBe('usd-standard');
    expect(ratePlanIdAt(terms, Date.parse('2026-11-16T00:00:00.000Z'))).toBe('usd-premium');
    expect(ratePlanIdsOf(terms).sort()).toEqual(['usd-premium', 'usd-standard']);
  });

  it('terms stored before amendments were dated (no schedule) read as one commitment over the term', () => {
    const legacy: LeaseTerms = {
      leaseId: 'L0',
      tenantId: 'tenant-a',
      ratePlanId: 'usd-standard',
      term: {
        startMs: Date.parse('2026-11-16T00:00:00.000Z'),
        endMs: Date.parse('2027-11-16T00:00:00.000Z'),
      },
      committedGpus: { H100: 10 },
      sourceEventIds: ['e-signed'],
    };
    expect(proratedMinimumOverSegmentsMinor(commitmentSegments(legacy, nov), 'H100', fee, '2026-11')).toBe(
      500_000n,
    );
    const amendedLegacy = evolveLeaseTerms(legacy, amended('2026-11-26T00:00:00.000Z', { H100: 20 }, 'a1'))!;
    // the amendment moves the term start to Nov 1: the first commitment covers Nov 1-26, then 20 GPUs
    expect(
      proratedMinimumOverSegmentsMinor(commitmentSegments(amendedLegacy, nov), 'H100', fee, '2026-11'),
    ).toBe(1_166_667n);
  });
});
