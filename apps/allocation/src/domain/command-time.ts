import { reject, Rejection } from './rejection';
import { AllocationState } from './state';

/**
 * Issue #15 (9), time in commands: the placement ledger is decided in time order. A ledger command
 * (submit, release, withdraw) stamped before the ledger's latest event is refused with
 * `stale-command`: the state holds only the present (today's free GPUs, quotas, fences), so a
 * decision "as of" an earlier instant would be made against capacity that did not exist then, and
 * its events would read as if they had happened before decisions already recorded. Equal times are
 * fine. A caller that does not stamp its command gets the later of its clock and the ledger's time.
 * Issue #22: a command stamped behind allocation's published watermark is refused the same way (its
 * detail names the watermark): there is no "late" placement, the caller sends it again as of now.
 */
export function checkCommandTime(state: AllocationState, at: string): Rejection<'stale-command'> | null {
  if (Number.isNaN(Date.parse(at))) return reject('stale-command', `${at} is not an instant`);
  if (state.ledgerAt && Date.parse(at) < Date.parse(state.ledgerAt))
    return reject(
      'stale-command',
      `the command is stamped ${at}, before the placement ledger's latest decision at ${state.ledgerAt}; allocation decides in time order and does not evaluate the past: send it again with a current time (or none)`,
    );
  // Issue #22: behind the published watermark, metering and billing have been told the past is complete.
  if (state.watermarkAt && Date.parse(at) < Date.parse(state.watermarkAt))
    return reject(
      'stale-command',
      `the command is stamped ${at}, behind allocation's published watermark ${state.watermarkAt}: every placement before it has been published to metering and billing as complete, so the past is not reopened; send it again with a current time (or none)`,
    );
  return null;
}

/** The time a ledger command runs at: the caller's stamp, else the latest of `now`, the ledger's latest event and the watermark (#22). */
export function commandTime(state: AllocationState, requestedAt: string | undefined, now: string): string {
  if (requestedAt) return requestedAt;
  return laterOf(laterOf(now, state.ledgerAt), state.watermarkAt);
}

/** The later of two instants (ISO), `b` may be empty. */
export function laterOf(a: string, b: string): string {
  return b && Date.parse(b) > Date.parse(a) ? b : a;
}
