import { CommitmentSegment } from './leases';
import { divideRoundHalfEven, MILLI_PER_UNIT } from './money';
import { Interval, overlapSeconds, periodBounds, periodSeconds } from './periods';

/**
 * Take-or-pay commitments. A lease commits GPUs per class over its term [start, end). For each calendar month:
 *  - the committed GPU-time is committedGpus x (seconds of the term inside the month);
 *  - usage up to it is billed at the class price, usage above it at the overage price;
 *  - the minimum is committedGpus x monthly fee per GPU, prorated by seconds at term start and end
 *    (term seconds in the month / seconds in the month), rounded once, half to even;
 *  - when in-commitment usage comes to less than the minimum, the difference is billed as a shortfall.
 */

export function committedMilliGpuSeconds(committedGpus: number, term: Interval, period: string): bigint {
  return BigInt(committedGpus) * overlapSeconds(term, periodBounds(period)) * MILLI_PER_UNIT;
}

export function proratedMinimumMinor(
  committedGpus: number,
  monthlyFeePerGpuMinor: bigint,
  term: Interval,
  period: string,
): bigint {
  const termSeconds = overlapSeconds(term, periodBounds(period));
  return divideRoundHalfEven(
    BigInt(committedGpus) * monthlyFeePerGpuMinor * termSeconds,
    periodSeconds(period),
  );
}

/**
 * The same two figures for a commitment that changes within the month (amendments effective mid-month): each
 * segment of the term contributes its GPUs x its seconds in the month, at the fee of its own plan; the minimum
 * is still rounded once, over the sum.
 */
export function committedMilliGpuSecondsOverSegments(
  segments: readonly CommitmentSegment[],
  gpuClass: string,
  period: string,
): bigint {
  const bounds = periodBounds(period);
  let total = 0n;
  for (const segment of segments)
    total += BigInt(segment.committedGpus[gpuClass] ?? 0) * overlapSeconds(segment, bounds) * MILLI_PER_UNIT;
  return total;
}

export function proratedMinimumOverSegmentsMinor(
  segments: readonly CommitmentSegment[],
  gpuClass: string,
  monthlyFeePerGpuMinor: (segment: CommitmentSegment) => bigint,
  period: string,
): bigint {
  const bounds = periodBounds(period);
  let numerator = 0n;
  for (const segment of segments) {
    const gpus = segment.committedGpus[gpuClass] ?? 0;
    if (gpus === 0) continue;
    numerator += BigInt(gpus) * monthlyFeePerGpuMinor(segment) * overlapSeconds(segment, bounds);
  }
  return divideRoundHalfEven(numerator, periodSeconds(period));
}

export function shortfallMinor(minimumMinor: bigint, inCommitmentUsageMinor: bigint): bigint {
  return minimumMinor > inCommitmentUsageMinor ? minimumMinor - inCommitmentUsageMinor : 0n;
}

export interface HourOfUsage {
  hourStartMs: number;
  milliGpuSeconds: bigint;
}

export interface CommitmentSplit {
  withinMilli: bigint;
  overageMilli: bigint;
}

/**
 * Fills the commitment in chronological order: each hour's usage counts against what remains of the committed
 * GPU-time; what does not fit is overage. Negative net hours (over-corrections) give commitment back.
 */
export function splitByCommitment(hours: readonly HourOfUsage[], committedMilli: bigint): CommitmentSplit[] {
  let remaining = committedMilli;
  return hours.map(({ milliGpuSeconds }) => {
    const withinMilli =
      milliGpuSeconds <= 0n
        ? milliGpuSeconds
        : milliGpuSeconds < remaining
          ? milliGpuSeconds
          : remaining > 0n
            ? remaining
            : 0n;
    remaining -= withinMilli;
    return { withinMilli, overageMilli: milliGpuSeconds - withinMilli };
  });
}

/**
 * The same rule as `splitByCommitment`, in doubles, for the common case where every figure is a safe integer
 * (a month of one lease's class is far below 2^53 thousandths): no bigint per hour. The caller checks
 * `fitsInDoubles` first; the results are then exactly those of the bigint version.
 */
export function splitByCommitmentInDoubles(
  hoursMilli: readonly number[],
  committedMilli: number,
): { withinMilli: number; overageMilli: number }[] {
  let remaining = committedMilli;
  return hoursMilli.map((milli) => {
    const withinMilli = milli <= 0 ? milli : milli < remaining ? milli : remaining > 0 ? remaining : 0;
    remaining -= withinMilli;
    return { withinMilli, overageMilli: milli - withinMilli };
  });
}

/** True when the commitment and the absolute sum of the hours are safe integers (then every partial sum is). */
export function fitsInDoubles(hoursMilli: readonly number[], committedMilli: bigint): boolean {
  if (committedMilli > BigInt(Number.MAX_SAFE_INTEGER)) return false;
  let absolute = Number(committedMilli);
  for (const milli of hoursMilli) {
    if (!Number.isSafeInteger(milli)) return false;
    absolute += Math.abs(milli);
  }
  return absolute <= Number.MAX_SAFE_INTEGER;
}
