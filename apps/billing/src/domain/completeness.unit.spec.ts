import { graceFor, incompleteDetail, inputWatermarkMs, periodCompleteness } from './completeness';

const HOUR = 3_600_000;
const APRIL = Date.parse('2026-04-01T00:00:00.000Z');
const at = (iso: string) => Date.parse(iso);

describe('a period is complete when every input has passed its end; finalizable after the grace', () => {
  it.each([
    {
      name: 'the period has not ended: metering is behind too',
      now: at('2026-03-20T00:00:00Z'),
      metering: at('2026-03-19T22:00:00Z'),
      holds: 0,
      coveredUntil: '2026-03-19T22:00:00.000Z',
      complete: false,
      missing: ['period-not-ended', 'metering-behind'],
    },
    {
      name: 'ended, but metering has closed only until 22:00 the day before',
      now: at('2026-04-01T05:00:00Z'),
      metering: at('2026-03-31T22:00:00Z'),
      holds: 0,
      coveredUntil: '2026-03-31T22:00:00.000Z',
      complete: false,
      missing: ['metering-behind'],
    },
    {
      name: 'no metering watermark from every partition yet: covers nothing',
      now: at('2026-04-01T05:00:00Z'),
      metering: null,
      holds: 0,
      coveredUntil: '2026-03-01T00:00:00.000Z',
      complete: false,
      missing: ['metering-behind'],
    },
    {
      name: 'metering past the end, but usage waits for its lease',
      now: at('2026-04-01T05:00:00Z'),
      metering: at('2026-04-01T04:00:00Z'),
      holds: 2,
      coveredUntil: '2026-04-01T00:00:00.000Z',
      complete: false,
      missing: ['usage-holds-pending'],
    },
    {
      name: 'complete, inside the grace hour',
      now: APRIL + 30 * 60_000,
      metering: APRIL,
      holds: 0,
      coveredUntil: '2026-04-01T00:00:00.000Z',
      complete: true,
      missing: ['grace-period'],
    },
    {
      name: 'complete and the grace has elapsed: finalizable',
      now: APRIL + HOUR,
      metering: APRIL,
      holds: 0,
      coveredUntil: '2026-04-01T00:00:00.000Z',
      complete: true,
      missing: [],
    },
  ])('$name', ({ now, metering, holds, coveredUntil, complete, missing }) => {
    const result = periodCompleteness({
      period: '2026-03',
      nowMs: now,
      meteringWatermarkMs: metering,
      pendingHolds: holds,
      graceMs: HOUR,
    });
    expect(result).toMatchObject({ coveredUntil, complete, finalizable: missing.length === 0 });
    expect(result.missing.map((m) => m.reason)).toEqual(missing);
    expect(result.finalizableFrom).toBe('2026-04-01T01:00:00.000Z');
  });

  it('the 409 detail names each missing input and how to force', () => {
    const result = periodCompleteness({
      period: '2026-03',
      nowMs: at('2026-04-01T05:00:00Z'),
      meteringWatermarkMs: at('2026-03-31T22:00:00Z'),
      pendingHolds: 1,
      graceMs: HOUR,
    });
    const detail = incompleteDetail('acme.2026-03', result);
    expect(detail).toMatch(
      /metering: metering has closed usage before 2026-03-31T22:00:00.000Z only, 120 min short/,
    );
    expect(detail).toMatch(/usage-holds: 1 usage event/);
    expect(detail).toMatch(/force/);
  });

  describe("SLA credit terms: inventory's watermark must pass the period end too", () => {
    const facts = (inventory: number | null | undefined) =>
      periodCompleteness({
        period: '2026-03',
        nowMs: APRIL + HOUR,
        meteringWatermarkMs: APRIL,
        inventoryWatermarkMs: inventory,
        pendingHolds: 0,
        graceMs: HOUR,
      });

    it('behind the period end: incomplete, named, and covering only until it', () => {
      const result = facts(at('2026-03-31T23:00:00Z'));
      expect(result).toMatchObject({ complete: false, coveredUntil: '2026-03-31T23:00:00.000Z' });
      expect(result.missing).toEqual([
        expect.objectContaining({
          input: 'inventory',
          reason: 'inventory-behind',
          watermark: '2026-03-31T23:00:00.000Z',
        }),
      ]);
      expect(incompleteDetail('acme.2026-03', result)).toMatch(/inventory: .* 60 min short/);
    });

    it('no marker from every partition yet: covers nothing', () => {
      const result = facts(null);
      expect(result).toMatchObject({ complete: false, coveredUntil: '2026-03-01T00:00:00.000Z' });
      expect(result.missing.map((m) => m.reason)).toEqual(['inventory-behind']);
    });

    it('at or past the period end: finalizable; not needed (undefined): not asked for', () => {
      expect(facts(APRIL)).toMatchObject({ complete: true, finalizable: true, missing: [] });
      expect(facts(undefined)).toMatchObject({ complete: true, finalizable: true, missing: [] });
    });
  });

  it("metering's watermark is the slowest partition's; unknown while one has none", () => {
    expect(
      inputWatermarkMs([
        { partition: 0, partitions: 3, watermarkMs: 3 },
        { partition: 1, partitions: 3, watermarkMs: 1 },
        { partition: 2, partitions: 3, watermarkMs: 2 },
      ]),
    ).toBe(1);
    expect(inputWatermarkMs([{ partition: 0, partitions: 3, watermarkMs: 3 }])).toBeNull();
  });

  it.each([
    ['the default without plan or tenant override', 'acme', [undefined], {}, HOUR],
    ['the longest grace of the plans the leases use', 'acme', [undefined, 2 * HOUR, 3 * HOUR], {}, 3 * HOUR],
    ["the tenant's override wins over the plans", 'acme', [3 * HOUR], { acme: 0 }, 0],
    ["another tenant's override does not apply", 'globex', [3 * HOUR], { acme: 0 }, 3 * HOUR],
  ])('grace: %s', (_name, tenant, plans, overrides, expected) => {
    expect(graceFor(tenant, plans, overrides, HOUR)).toBe(expected);
  });
});
