/**
 * Billing periods are calendar months in UTC ("2026-11"). A lease term is [start, end) in epoch milliseconds.
 */

export interface Interval {
  startMs: number;
  endMs: number;
}

export function periodOf(instantMs: number): string {
  const date = new Date(instantMs);
  return `${date.getUTCFullYear()}-${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

export function periodBounds(period: string): Interval {
  const match = /^(\d{4})-(\d{2})$/.exec(period);
  if (!match) throw new Error(`not a billing period: ${period}`);
  const year = Number(match[1]);
  const monthIndex = Number(match[2]) - 1;
  return { startMs: Date.UTC(year, monthIndex, 1), endMs: Date.UTC(year, monthIndex + 1, 1) };
}

/** Whole seconds two intervals share (terms and periods start on whole seconds in practice; rounds down). */
export function overlapSeconds(a: Interval, b: Interval): bigint {
  const startMs = Math.max(a.startMs, b.startMs);
  const endMs = Math.min(a.endMs, b.endMs);
  return endMs > startMs ? BigInt(Math.floor((endMs - startMs) / 1000)) : 0n;
}

export function periodSeconds(period: string): bigint {
  const { startMs, endMs } = periodBounds(period);
  return BigInt((endMs - startMs) / 1000);
}
