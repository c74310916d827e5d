import { CommitmentSegment } from './leases';
import { divideRoundHalfEven, MICRO_MINOR_PER_MINOR, MILLI_PER_UNIT, SECONDS_PER_HOUR } from './money';
import { overlapSeconds, periodBounds, periodSeconds } from './periods';

/**
 * A monetary commitment: a lease's plan commits an amount of money per month across all GPU classes (a
 * whole-cluster deal of $1M a month over H100, H200 and GB200), alongside the per-class GPU commitments.
 *
 * The drawdown rule, for one lease and one month:
 *  1. Per-class GPU commitments are applied first (commitments.ts): usage inside them is billed at the class price
 *     and draws the monetary commitment down by its value at that price.
 *  2. The rest of the usage (above a class's GPU commitment, or of a class without one) draws what remains of the
 *     monetary commitment in chronological order of the usage hour; within one hour, classes in name order
 *     (GB200, H100, H200). Each piece is valued at its class price (the in-commitment price). An hour that does
 *     not fit whole is split exactly: the milli-GPU-seconds the remaining amount buys at the class price are in
 *     the commitment, the rest is overage.
 *  3. Usage after the monetary commitment is used up is overage, at the class's overage price.
 *  4. Minimum: committed spend is in-commitment usage (rounded line amounts, all classes) plus per-class
 *     shortfalls; when it comes to less than the prorated monetary minimum, the difference is billed as a
 *     monetary shortfall line. Late usage of earlier months (`:prior-period`) and usage outside the commitment
 *     never count.
 * Without a monetary commitment nothing here applies and usage above the class commitments is overage, as before.
 */

/** Milli-GPU-seconds x micro-minor per GPU-hour per minor unit: money at the exact scale of a usage piece. */
const SCALE = MILLI_PER_UNIT * SECONDS_PER_HOUR * MICRO_MINOR_PER_MINOR;

/** The monetary minimum of the month: each segment's plan amount x its seconds in the month, rounded once. */
export function proratedMonetaryMinimumMinor(
  segments: readonly CommitmentSegment[],
  monthlyCommitmentMinor: (segment: CommitmentSegment) => bigint,
  period: string,
): bigint {
  const bounds = periodBounds(period);
  let numerator = 0n;
  for (const segment of segments)
    numerator += monthlyCommitmentMinor(segment) * overlapSeconds(segment, bounds);
  return divideRoundHalfEven(numerator, periodSeconds(period));
}

/** Usage above the per-class commitments in one hour of one class: a candidate for the monetary commitment. */
export interface UsageAboveClassCommitment {
  hourStartMs: number;
  gpuClass: string;
  milliGpuSeconds: bigint;
  /** The class price (in-commitment) of that hour, micro-minor per GPU-hour. */
  priceMicroMinor: bigint;
}

export interface MonetaryDrawdown {
  withinMilli: bigint;
  overageMilli: bigint;
}

/**
 * Steps 2 and 3: splits each piece into what the monetary commitment takes and overage. `monetaryMinimumMinor`
 * minus `drawnByClassCommitmentsScaled` (step 1, at SCALE: milli x price) is what remains to draw. Results are
 * in the order of `pieces`; the drawing order is chronological, then by class name.
 */
export function drawDownMonetaryCommitment(
  pieces: readonly UsageAboveClassCommitment[],
  monetaryMinimumMinor: bigint,
  drawnByClassCommitmentsScaled: bigint,
): MonetaryDrawdown[] {
  let remaining = monetaryMinimumMinor * SCALE - drawnByClassCommitmentsScaled;
  const order = pieces
    .map((piece, index) => ({ piece, index }))
    .sort(
      (a, b) =>
        a.piece.hourStartMs - b.piece.hourStartMs ||
        (a.piece.gpuClass < b.piece.gpuClass ? -1 : a.piece.gpuClass > b.piece.gpuClass ? 1 : 0),
    );
  const result: MonetaryDrawdown[] = pieces.map(() => ({ withinMilli: 0n, overageMilli: 0n }));
  for (const { piece, index } of order) {
    const milli = piece.milliGpuSeconds;
    if (milli <= 0n) {
      result[index] = { withinMilli: 0n, overageMilli: milli };
      continue;
    }
    let within: bigint;
    if (remaining <= 0n) within = 0n;
    else if (piece.priceMicroMinor === 0n) within = milli;
    else {
      const affordable = remaining / piece.priceMicroMinor;
      within = affordable < milli ? affordable : milli;
    }
    remaining -= within * piece.priceMicroMinor;
    result[index] = { withinMilli: within, overageMilli: milli - within };
  }
  return result;
}

/** Step 4: the monetary shortfall. */
export function monetaryShortfallMinor(
  monetaryMinimumMinor: bigint,
  inCommitmentUsageMinor: bigint,
  classShortfallsMinor: bigint,
): bigint {
  const committedSpend = inCommitmentUsageMinor + classShortfallsMinor;
  return monetaryMinimumMinor > committedSpend ? monetaryMinimumMinor - committedSpend : 0n;
}
