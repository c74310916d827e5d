import { allocation, NewEvent, Topics, WatermarkPayload, watermarkMarkers } from '@fleetledger/contracts';
import { reject, Rejection } from './rejection';
import { AllocationState } from './state';

/**
 * Allocation's progress on its events topic (issue #22), as pure decisions.
 *
 * The watermark T promises: every placement-ledger event with a decision time before T is already
 * appended, before the marker, so once the relay has published the marker on a partition, Kafka's
 * order puts every such event of that partition before it. Allocation keeps the promise with the
 * rule it already had for time (#15, `checkCommandTime`): the marker raises the ledger's clock to T,
 * so a ledger command stamped before T is refused with `stale-command` (the detail names the
 * watermark), and the follow-ups allocation decides on its own (queue re-drives, evictions caused by
 * inventory events stamped earlier) run at T at the earliest. There is no late-correction path for
 * placements: metering's own corrections label what still arrives late (the telemetry).
 *
 * What moves T:
 * - `decision`: the ledger's latest decision time (every ledger command already moves it);
 * - `heartbeat`: the wall clock minus `lagMs`, when the policy follows the clock. Without it an idle
 *   ledger would hold metering's hours open forever; with it, commands may be stamped at most `lagMs`
 *   in the past. Deployments that replay a story in the past (the tests, demos) turn it off and
 *   advance T explicitly (`operator`).
 */
export interface WatermarkPolicy {
  followsClock: boolean;
  /** How far behind the wall clock the heartbeat keeps T (the allowed lateness of commands). */
  lagMs: number;
}

export interface WatermarkAdvance {
  watermark: string;
  source: WatermarkPayload['source'];
}

/** The next watermark, or null when nothing moved (no marker is written then). */
export function nextWatermark(
  state: Pick<AllocationState, 'ledgerAt' | 'watermarkAt'>,
  nowMs: number,
  policy: WatermarkPolicy,
): WatermarkAdvance | null {
  const current = state.watermarkAt ? Date.parse(state.watermarkAt) : Number.NEGATIVE_INFINITY;
  const decision = state.ledgerAt ? Date.parse(state.ledgerAt) : Number.NEGATIVE_INFINITY;
  const heartbeat = policy.followsClock ? nowMs - policy.lagMs : Number.NEGATIVE_INFINITY;
  const next = Math.max(decision, heartbeat);
  if (!Number.isFinite(next) || next <= current) return null;
  return { watermark: new Date(next).toISOString(), source: heartbeat > decision ? 'heartbeat' : 'decision' };
}

/**
 * An operator declares the ledger complete until `to` (after a backfill of past events, or to let a
 * story told in the past reach the end of its period). Never into the future: that would refuse
 * every command until then.
 */
export function decideOperatorWatermark(
  state: Pick<AllocationState, 'watermarkAt'>,
  to: string,
  nowMs: number,
): WatermarkAdvance | Rejection<'invalid' | 'stale-command'> {
  const toMs = Date.parse(to);
  if (Number.isNaN(toMs)) return reject('invalid', `${to} is not an instant`);
  if (toMs > nowMs)
    return reject('invalid', `${to} is in the future: a watermark only says what has already happened`);
  if (state.watermarkAt && toMs <= Date.parse(state.watermarkAt))
    return reject(
      'stale-command',
      `the watermark is already at ${state.watermarkAt}; it never moves back (${to} asked)`,
    );
  return { watermark: new Date(toMs).toISOString(), source: 'operator' };
}

/**
 * One marker per partition of the events topic, each on the stream whose key Kafka routes to that
 * partition (`streamIds[p]`, see libs/eventstore/src/watermark.ts). All of them in one append, after every
 * event decided before them.
 */
export function watermarkEvents(
  advance: WatermarkAdvance,
  streamIds: readonly string[],
): { streamId: string; events: NewEvent[] }[] {
  return watermarkMarkers(allocation.PartitionWatermarkAdvanced, Topics.allocationEvents, advance, streamIds);
}
