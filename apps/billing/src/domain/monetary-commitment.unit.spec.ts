import { composeInvoiceLines, InvoiceComposition } from './invoice-lines';
import {
  drawDownMonetaryCommitment,
  monetaryShortfallMinor,
  UsageAboveClassCommitment,
} from './monetary-commitment';
import { rateUsage } from './rating';
import { lease, usageRecorded, usdPlan } from '../../test/fixtures';

const at = (iso: string) => Date.parse(iso);
const H = 3_600_000n; // one GPU-hour in milli-GPU-seconds
/** Micro-minor per GPU-hour: 2.50 and 3.00 (USD cents x 10^6). */
const USD_2_50 = 250_000_000n;
const USD_3_00 = 300_000_000n;
const SCALE = 3_600_000_000_000n; // milli-GPU-seconds x micro-minor per GPU-hour per cent
const piece = (
  hour: string,
  gpuClass: string,
  milliGpuSeconds: bigint,
  priceMicroMinor: bigint,
): UsageAboveClassCommitment => ({ hourStartMs: at(hour), gpuClass, milliGpuSeconds, priceMicroMinor });

describe('the monetary drawdown rule', () => {
  it.each([
    [
      'a budget that covers everything takes everything at the class price',
      [piece('2026-11-01T00:00Z', 'H100', 2n * H, USD_2_50)],
      1_000n,
      0n,
      [{ withinMilli: 2n * H, overageMilli: 0n }],
    ],
    [
      '$5.00 left buys 2 of 3 H100-hours at $2.50; the third is overage',
      [piece('2026-11-01T00:00Z', 'H100', 3n * H, USD_2_50)],
      500n,
      0n,
      [{ withinMilli: 2n * H, overageMilli: H }],
    ],
    [
      'chronological across classes: the earlier H200 hour draws first, the later H100 hour is overage',
      [piece('2026-11-01T01:00Z', 'H100', H, USD_2_50), piece('2026-11-01T00:00Z', 'H200', H, USD_3_00)],
      300n,
      0n,
      [
        { withinMilli: 0n, overageMilli: H },
        { withinMilli: H, overageMilli: 0n },
      ],
    ],
    [
      'within one hour, classes in name order: GB200 before H100',
      [piece('2026-11-01T00:00Z', 'H100', H, USD_2_50), piece('2026-11-01T00:00Z', 'GB200', H, USD_3_00)],
      300n,
      0n,
      [
        { withinMilli: 0n, overageMilli: H },
        { withinMilli: H, overageMilli: 0n },
      ],
    ],
    [
      'usage inside the class commitments draws first: $2.50 of $5.00 already drawn leaves one hour',
      [piece('2026-11-01T00:00Z', 'H100', 2n * H, USD_2_50)],
      500n,
      250n * SCALE,
      [{ withinMilli: H, overageMilli: H }],
    ],
    [
      'an exact split: one cent buys 14.4 GPU-seconds at $2.50 per hour',
      [piece('2026-11-01T00:00Z', 'H100', H, USD_2_50)],
      1n,
      0n,
      [{ withinMilli: 14_400n, overageMilli: H - 14_400n }],
    ],
    [
      'nothing left: all overage',
      [piece('2026-11-01T00:00Z', 'H100', H, USD_2_50)],
      500n,
      500n * SCALE,
      [{ withinMilli: 0n, overageMilli: H }],
    ],
    [
      'a free class fits whole while anything remains',
      [piece('2026-11-01T00:00Z', 'H100', H, 0n)],
      1n,
      0n,
      [{ withinMilli: H, overageMilli: 0n }],
    ],
  ] as const)('%s', (_case, pieces, minimumMinor, drawnScaled, expected) => {
    expect(drawDownMonetaryCommitment(pieces, minimumMinor, drawnScaled)).toEqual(expected);
  });

  it.each([
    ['committed spend above the minimum: nothing', 1_000n, 800n, 300n, 0n],
    ['class shortfalls count as committed spend', 1_000n, 200n, 300n, 500n],
    ['no spend at all: the whole minimum', 100_000_000n, 0n, 0n, 100_000_000n],
  ])('shortfall: %s', (_case, minimum, usage, classShortfalls, expected) => {
    expect(monetaryShortfallMinor(minimum, usage, classShortfalls)).toBe(expected);
  });
});

describe('invoices of a lease with a monetary commitment (plan usd-standard + monthlyCommitmentMinor)', () => {
  const planWith = (monthlyCommitmentMinor: string) => usdPlan({ monthlyCommitmentMinor });
  const compose = (
    monthlyCommitmentMinor: string,
    terms: ReturnType<typeof lease>,
    usage: ReturnType<typeof usageRecorded>[] = [],
  ) => {
    const plan = planWith(monthlyCommitmentMinor);
    const charges = usage.flatMap((record) => {
      const rated = rateUsage(record, [plan], terms);
      if (!Array.isArray(rated)) throw new Error(rated.detail);
      return rated;
    });
    const composition = composeInvoiceLines({
      period: '2026-11',
      charges,
      leases: [terms],
      planVersions: () => [plan],
    }) as InvoiceComposition;
    return {
      totalMinor: composition.totalMinor,
      lines: Object.fromEntries(composition.lines.map((line) => [line.lineId, line.amountMinor])),
    };
  };
  const whole = lease({ leaseId: 'W' });
  const hour = (gpuClass: 'H100' | 'H200', hourStart: string, gpuSeconds: string) =>
    usageRecorded({ leaseId: 'W', gpuClass, hourStart, gpuSeconds });

  it('$1M a month and no usage: the whole million as a monetary shortfall', () => {
    expect(compose('100000000', whole)).toEqual({
      totalMinor: 100_000_000n,
      lines: { 'W:commitment-shortfall:monetary': '100000000' },
    });
  });

  it('prorated by seconds: a term starting Nov 16 owes half', () => {
    const late = { ...whole, term: { startMs: at('2026-11-16T00:00:00Z'), endMs: whole.term.endMs } };
    expect(compose('100000000', late).lines).toEqual({ 'W:commitment-shortfall:monetary': '50000000' });
  });

  it('$10.00 across classes: 2 H100-hours ($5.00) first, then 1h40m of 2 H200-hours; the rest is H200 overage', () => {
    expect(
      compose('1000', whole, [
        hour('H100', '2026-11-02T00:00:00.000Z', '7200.000'),
        hour('H200', '2026-11-02T01:00:00.000Z', '7200.000'),
      ]),
    ).toEqual({
      totalMinor: 1120n,
      lines: {
        'W:gpu-usage:H100:250000000:monetary-commitment': '500',
        'W:gpu-usage:H200:300000000:monetary-commitment': '500',
        // 1,200 GPU-seconds at 3.60 per hour
        'W:gpu-overage:H200:360000000': '120',
      },
    });
  });

  it('with a per-class commitment too: its minimum is billed, counts as committed spend, and the rest is a monetary shortfall', () => {
    const both = { ...whole, committedGpus: { H100: 1 } };
    expect(compose('200000', both, [hour('H100', '2026-11-02T00:00:00.000Z', '3600.000')])).toEqual({
      totalMinor: 200_000n,
      lines: {
        'W:gpu-usage:H100:250000000': '250',
        'W:commitment-shortfall:H100': '99750',
        'W:commitment-shortfall:monetary': '100000',
      },
    });
  });

  it('without a monetary commitment, usage above the class commitments is overage as before', () => {
    expect(compose('0', whole, [hour('H100', '2026-11-02T00:00:00.000Z', '3600.000')]).lines).toEqual({
      'W:gpu-overage:H100:300000000': '300',
    });
  });
});
