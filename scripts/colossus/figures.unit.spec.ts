import { figuresOf, routedAsPolicy } from './figures';
import { ScenarioResult } from './scenario';

const START = Date.parse('2027-01-01T00:00:00.000Z');
const HOUR = 3_600_000;

function result(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    options: {
      month: '2027-01',
      days: 1,
      gpus: 2000,
      seed: 1,
      speed: 'max',
      sampleBudget: 1000,
      concurrency: 4,
    },
    period: '2027-01',
    invoiceId: 'colossus-lab.2027-01',
    leaseId: 'colossus-2027-01',
    endedEarlyAt: '2027-01-01T20:00:00.000Z',
    plan: {
      startMs: START,
      endMs: START + 20 * HOUR,
      plannedEndMs: START + 24 * HOUR,
      stepMs: 600_000,
      dealAtMs: START + 6 * HOUR,
      sampleIntervalMs: 1_800_000,
      samplingFactor: 180,
      closeEveryMs: 6 * HOUR,
      workloads: 10,
      incidents: 2,
    },
    fleet: { H100: 960, H200: 448, GB200: 576 },
    halls: 11,
    racks: 52,
    phases: [{ name: 'month', wallMs: 10_000 }],
    decisions: [
      { workloadClass: 'inference', outcome: 'placed', gpuClass: 'GB200' },
      {
        workloadClass: 'inference',
        outcome: 'placed',
        gpuClass: 'H200',
        routingReason: 'fallback: GB200 quota',
      },
      { workloadClass: 'inference', outcome: 'queued', reason: 'quota' },
      { workloadClass: 'inference', outcome: 'queued', reason: 'quota' },
      { workloadClass: 'agentic', outcome: 'rejected', reason: 'topology' },
      { workloadClass: 'training', outcome: 'placed', gpuClass: 'H100' },
    ],
    submitLatencyMs: [10, 20, 30, 40],
    releaseLatencyMs: [],
    samples: { sent: 100, accepted: 100, duplicates: 0, rejected: 0, wallMs: 50 },
    incidents: [
      { at: '2027-01-01T03:00:00.000Z', kind: 'gpu-failures', target: 'g1 g2', evicted: ['w1', 'w2'] },
    ],
    quotaHistory: [
      {
        gpuClass: 'GB200',
        workloadClass: 'inference',
        nominal: 510,
        previousNominal: 34,
        change: { kind: 'multiply', factor: 15 },
        reason: 'x15',
        changedAt: '2027-01-01T06:00:00.000Z',
      },
    ],
    snapshots: [1, 2].map((i) => ({
      simAt: new Date(START + i * 6 * HOUR).toISOString(),
      ramp: 0.5,
      allocation: [],
      halls: [{ id: 'h1', budgetW: 27_000_000, drawW: i * 1_000_000, headroomW: 27_000_000 - i * 1_000_000 }],
    })),
    utilizationHourly: [0, 12, 21].map((h) => ({
      gpuClass: 'H100',
      hourStart: new Date(START + h * HOUR).toISOString(),
      allocatedShareOfHealthy: 0.5,
      utilization: 0.9,
    })),
    meteringTotals: {},
    invoice: {
      invoiceId: 'colossus-lab.2027-01',
      invoiceNumber: 1,
      status: 'finalized',
      totalMinor: '100',
      currency: { code: 'USD', minorUnitExponent: 2 },
      lines: [],
    },
    monthClose: {},
    ...overrides,
  };
}

const scale = {
  eventsByService: [],
  schemaBytes: [],
  peakRssBytes: [],
  kafkaRecordsPublished: 0,
  loadAverage: '1.0',
};

describe('the report figures of a run', () => {
  const figures = figuresOf(result(), scale, [], '2027-02-01T00:00:00.000Z');

  it('counts placements per product and class, first choice apart from fallback', () => {
    expect(figures.routing).toEqual([
      { workloadClass: 'inference', gpuClass: 'GB200', firstChoice: 1, fallback: 0 },
      { workloadClass: 'inference', gpuClass: 'H200', firstChoice: 0, fallback: 1 },
      { workloadClass: 'training', gpuClass: 'H100', firstChoice: 1, fallback: 0 },
    ]);
  });

  it('adds up what did not place by outcome, reason and product, most first', () => {
    expect(figures.decisions).toEqual([
      { outcome: 'queued', reason: 'quota', workloadClass: 'inference', count: 2 },
      { outcome: 'rejected', reason: 'topology', workloadClass: 'agentic', count: 1 },
    ]);
  });

  it('keeps the least headroom per hall and the draw at that reading', () => {
    expect(figures.power).toEqual([
      { hallId: 'h1', budgetW: 27_000_000, minHeadroomW: 25_000_000, drawAtMinW: 2_000_000, readings: 2 },
    ]);
  });

  it('holds hours before the end only, against the ramp of the whole plan (not of an early end)', () => {
    expect(figures.utilization.map((u) => [u.hourStart.slice(11, 13), u.ramp.toFixed(4)])).toEqual([
      ['00', (0.4 + (0.45 * 0.5) / 24).toFixed(4)],
      ['12', (0.4 + (0.45 * 12.5) / 24).toFixed(4)],
    ]);
    expect(figures.run.endAt).toContain('ended early');
  });

  it('states the sampling factor, the latency percentiles and the quota change as multiply x15', () => {
    expect(figures.run).toMatchObject({ samplingFactor: 180, sampleIntervalSeconds: 1800 });
    expect(figures.latency).toMatchObject({
      count: 4,
      p50Ms: 20,
      p99Ms: 40,
      maxMs: 40,
      placementsPerSecond: 0.3, // 3 placed in 10 s
    });
    expect(figures.quotaChanges).toEqual([
      {
        at: '2027-01-01T06:00:00.000Z',
        key: 'GB200/inference',
        previous: 34,
        nominal: 510,
        change: 'x15',
        reason: 'x15',
      },
    ]);
  });

  it('says which products ran off their routes', () => {
    expect(routedAsPolicy(result())).toEqual({ inference: true, agentic: true, training: true });
    const off = result({ decisions: [{ workloadClass: 'training', outcome: 'placed', gpuClass: 'GB200' }] });
    expect(routedAsPolicy(off).training).toBe(false);
  });
});
