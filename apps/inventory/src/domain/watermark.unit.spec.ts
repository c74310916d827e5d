import { nextInventoryWatermark, staleCommandDetail } from './watermark';

const at = (iso: string) => Date.parse(iso);

describe("inventory's watermark (issue #22)", () => {
  it('follows the wall clock minus the lag, and only forward', () => {
    const now = at('2026-12-06T12:00:00Z');
    expect(nextInventoryWatermark(null, now, 60_000)).toBe('2026-12-06T11:59:00.000Z');
    expect(nextInventoryWatermark(at('2026-12-06T11:58:00Z'), now, 60_000)).toBe('2026-12-06T11:59:00.000Z');
    expect(nextInventoryWatermark(at('2026-12-06T11:59:00Z'), now, 60_000)).toBeNull();
    expect(nextInventoryWatermark(at('2026-12-06T11:59:30Z'), now, 60_000)).toBeNull();
  });

  it('refuses a command stamped behind it, naming the watermark; at or after it, or without one, passes', () => {
    const mark = at('2026-12-06T11:59:00Z');
    expect(staleCommandDetail('2026-12-06T11:58:59.999Z', mark)).toMatch(
      /behind inventory's published watermark 2026-12-06T11:59:00.000Z/,
    );
    expect(staleCommandDetail('2026-12-06T11:59:00.000Z', mark)).toBeNull();
    expect(staleCommandDetail('2020-01-01T00:00:00.000Z', null)).toBeNull();
  });
});
