/**
 * Inventory's progress on its events topic (issue #22), as pure decisions. The watermark T promises: every
 * inventory event with an effective time (`occurredAt`) before T is already appended, before the marker, so
 * billing may finalize SLA credits computed from health events once T has passed the period end.
 *
 * Inventory keeps the promise as allocation does: T follows the wall clock minus the allowed lag (the
 * heartbeat), and a command stamped before the latest T is refused (`stale-command`). Both run under the
 * commands lock, so no command can slip in between reading T and appending.
 */

/** The next watermark, or null when it would not move (no marker is written then). */
export function nextInventoryWatermark(
  currentMs: number | null,
  nowMs: number,
  lagMs: number,
): string | null {
  const next = nowMs - lagMs;
  if (currentMs !== null && next <= currentMs) return null;
  return new Date(next).toISOString();
}

/** Why a command stamped at `occurredAt` is refused, or null when it is not behind the watermark. */
export function staleCommandDetail(occurredAt: string, watermarkMs: number | null): string | null {
  if (watermarkMs === null || Date.parse(occurredAt) >= watermarkMs) return null;
  return `the command is stamped ${occurredAt}, behind inventory's published watermark ${new Date(watermarkMs).toISOString()}: every event before it is promised published (SLA credits may be final)`;
}
