import { PlacementInterval, workloadUsage } from './workload-usage';

const at = (iso: string) => Date.parse(iso);
const interval = (overrides: Partial<PlacementInterval>): PlacementInterval => ({
  placementId: 'p1',
  gpuClass: 'H100',
  gpuIds: ['g1', 'g2'],
  startMs: at('2026-11-02T00:00:00Z'),
  endMs: at('2026-11-02T01:30:00Z'),
  eventIds: ['placed'],
  samples: { count: 0, busyMs: 0, energyMj: 0 },
  ...overrides,
});

describe('usage per workload (intervals)', () => {
  it.each([
    ['2 GPUs for 90 minutes', [interval({})], undefined, '10800.000'],
    [
      'evicted and placed again: two intervals add up',
      [
        interval({}),
        interval({
          placementId: 'p2',
          gpuIds: ['g3'],
          startMs: at('2026-11-02T02:00:00Z'),
          endMs: at('2026-11-02T03:00:00Z'),
        }),
      ],
      undefined,
      '14400.000',
    ],
    [
      'a running interval counts up to asOf',
      [interval({ endMs: null })],
      at('2026-11-02T00:30:00Z'),
      '3600.000',
    ],
    ['a running interval without asOf: not known', [interval({ endMs: null })], undefined, null],
    [
      'a placement that never started: nothing',
      [interval({ startMs: null, endMs: null })],
      undefined,
      '0.000',
    ],
  ] as const)('%s', (_case, intervals, asOfMs, allocated) => {
    expect(workloadUsage(intervals, asOfMs).totals.gpuSecondsAllocated).toBe(allocated);
  });

  it('busy time and energy come from the samples inside each interval; intervals in start order', () => {
    const usage = workloadUsage([
      interval({
        placementId: 'late',
        startMs: at('2026-11-02T05:00:00Z'),
        endMs: at('2026-11-02T06:00:00Z'),
      }),
      interval({ samples: { count: 3, busyMs: 25_000, energyMj: 21_600_000 } }),
    ]);
    expect(usage.intervals.map((i) => i.placementId)).toEqual(['p1', 'late']);
    expect(usage.intervals[0]).toMatchObject({
      gpuSecondsBusy: '25.000',
      energyWh: '6.000',
      sampleCount: 3,
      running: false,
    });
    expect(usage.totals).toEqual({
      gpuSecondsAllocated: '18000.000',
      gpuSecondsBusy: '25.000',
      energyWh: '6.000',
      sampleCount: 3,
    });
  });
});
