import { MeteringInput } from '@fleetledger/contracts/metering';
import { HOUR_MS } from './quantities';

/**
 * When metering may close an hour (issue #22), as pure rules.
 *
 * Hour H closes only when min(wall clock - allowed lateness, the watermark of each input that has
 * one) has passed its end. An input's watermark is the minimum over ALL partitions of its topic of
 * the latest marker handled from that partition (libs/contracts/src/progress.ts): a partition from
 * which no marker arrived yet holds the input at "unknown", so nothing closes on it. Inputs whose
 * producer publishes no watermark (the node agents' telemetry today) are bounded by the lateness
 * alone and `required: false`; what they deliver late is a labelled correction.
 */
export { inputWatermarkMs } from '@fleetledger/contracts';
export type { PartitionMark } from '@fleetledger/contracts';

export interface InputProgress {
  input: MeteringInput;
  /** Does closing wait for this input's watermark? */
  required: boolean;
  /** null: no watermark (yet). */
  watermarkMs: number | null;
}

export type CloseLimit = 'lateness' | 'placements-watermark' | 'telemetry-watermark';

export interface CloseBound {
  /** Every window of an hour that starts before this (a whole hour) may close. */
  dueBeforeMs: number;
  /** The instant before which everything is complete (before rounding down to the hour). */
  completeBeforeMs: number;
  limitedBy: CloseLimit;
}

/**
 * min(asOf - lateness, each required input's watermark), rounded down to a whole hour: the hours
 * before it have ended and every input has passed their end. A required input without a watermark
 * closes nothing (the bound is -infinity, limited by that input).
 */
export function closeBound(asOfMs: number, latenessMs: number, inputs: readonly InputProgress[]): CloseBound {
  let completeBeforeMs = asOfMs - latenessMs;
  let limitedBy: CloseLimit = 'lateness';
  for (const input of inputs) {
    if (!input.required) continue;
    const mark = input.watermarkMs ?? Number.NEGATIVE_INFINITY;
    if (mark < completeBeforeMs) {
      completeBeforeMs = mark;
      limitedBy = input.input === 'placements' ? 'placements-watermark' : 'telemetry-watermark';
    }
  }
  const dueBeforeMs = Number.isFinite(completeBeforeMs)
    ? Math.floor(completeBeforeMs / HOUR_MS) * HOUR_MS
    : Number.NEGATIVE_INFINITY;
  return { dueBeforeMs, completeBeforeMs, limitedBy };
}

/** How long after a window was closed a correction of it was made (never negative). */
export function lateByMs(closedAtMs: number | undefined, correctedAtMs: number): number | undefined {
  return closedAtMs === undefined ? undefined : Math.max(0, correctedAtMs - closedAtMs);
}
