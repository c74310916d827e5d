import {
  committedMilliGpuSeconds,
  fitsInDoubles,
  proratedMinimumMinor,
  shortfallMinor,
  splitByCommitment,
  splitByCommitmentInDoubles,
} from './commitments';

const at = (iso: string) => Date.parse(iso);
const november = '2026-11'; // 30 days = 2,592,000 s
const february = '2027-02'; // 28 days = 2,419,200 s

describe('commitments: take-or-pay with proration by seconds', () => {
  it.each([
    ['full month', 10, 100_000n, '2026-10-15T00:00:00Z', '2027-03-01T00:00:00Z', november, 1_000_000n],
    [
      'term starts mid-month (Nov 16: 15 of 30 days)',
      10,
      100_000n,
      '2026-11-16T00:00:00Z',
      '2027-03-01T00:00:00Z',
      november,
      500_000n,
    ],
    [
      'term ends mid-month (Nov 11: 10 of 30 days)',
      3,
      100_000n,
      '2026-01-01T00:00:00Z',
      '2026-11-11T00:00:00Z',
      november,
      100_000n,
    ],
    [
      'three hours of a month, rounded once (416.67 -> 417)',
      1,
      100_000n,
      '2026-11-01T00:00:00Z',
      '2026-11-01T03:00:00Z',
      november,
      417n,
    ],
    [
      'a shorter month prorates by its own length (14 of 28 days)',
      2,
      100_000n,
      '2027-02-15T00:00:00Z',
      '2027-06-01T00:00:00Z',
      february,
      100_000n,
    ],
    ['term outside the month', 5, 100_000n, '2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z', november, 0n],
  ])('minimum: %s', (_case, gpus, fee, start, end, period, expected) => {
    expect(proratedMinimumMinor(gpus, fee, { startMs: at(start), endMs: at(end) }, period)).toBe(expected);
  });

  it.each([
    ['usage below the minimum pays the shortfall', 200_000n, 750n, 199_250n],
    ['usage equal to the minimum pays nothing more', 200_000n, 200_000n, 0n],
    ['usage above the minimum pays no shortfall', 200_000n, 250_000n, 0n],
  ])('shortfall: %s', (_case, minimum, usage, expected) => {
    expect(shortfallMinor(minimum, usage)).toBe(expected);
  });

  it('committed GPU-time is GPUs x term seconds within the month, in thousandths', () => {
    const term = { startMs: at('2026-11-30T00:00:00Z'), endMs: at('2026-12-31T00:00:00Z') };
    expect(committedMilliGpuSeconds(4, term, november)).toBe(4n * 86_400n * 1000n);
  });

  it.each([
    [
      'all within',
      [100n, 100n],
      300n,
      [
        [100n, 0n],
        [100n, 0n],
      ],
    ],
    [
      'the hour that crosses the commitment splits',
      [200n, 200n],
      300n,
      [
        [200n, 0n],
        [100n, 100n],
      ],
    ],
    [
      'after the commitment everything is overage',
      [300n, 50n],
      300n,
      [
        [300n, 0n],
        [0n, 50n],
      ],
    ],
    ['no commitment: all overage', [10n], 0n, [[0n, 10n]]],
    [
      'a negative hour gives commitment back',
      [300n, -100n, 150n],
      300n,
      [
        [300n, 0n],
        [-100n, 0n],
        [100n, 50n],
      ],
    ],
  ])('split: %s', (_case, hours, committed, expected) => {
    const split = splitByCommitment(
      hours.map((milli, index) => ({ hourStartMs: index, milliGpuSeconds: milli })),
      committed,
    );
    expect(split.map((part) => [part.withinMilli, part.overageMilli])).toEqual(expected);
  });
});

describe('the commitment split in doubles is the bigint split', () => {
  it('agrees hour by hour on a month of varied hours, corrections included', () => {
    let seed = 7;
    const next = () => (seed = (seed * 48271) % 2147483647);
    const hours = Array.from({ length: 720 }, (_, hour) => ({
      hourStartMs: hour * 3_600_000,
      milliGpuSeconds: BigInt((next() % 60_000_000) - (hour % 50 === 0 ? 70_000_000 : 0)),
    }));
    const committed = 8n * 2_592_000n * 1000n;
    const asDoubles = hours.map((hour) => Number(hour.milliGpuSeconds));
    expect(fitsInDoubles(asDoubles, committed)).toBe(true);
    expect(
      splitByCommitmentInDoubles(asDoubles, Number(committed)).map((split) => [
        BigInt(split.withinMilli),
        BigInt(split.overageMilli),
      ]),
    ).toEqual(splitByCommitment(hours, committed).map((split) => [split.withinMilli, split.overageMilli]));
  });

  it('does not claim doubles are exact past 2^53', () => {
    expect(fitsInDoubles([Number.MAX_SAFE_INTEGER], 1n)).toBe(false);
    expect(fitsInDoubles([1], 2n ** 60n)).toBe(false);
  });
});
