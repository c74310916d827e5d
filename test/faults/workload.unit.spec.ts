import {
  dayStartMs,
  divideHalfEven,
  expectedInvoice,
  expectedUsage,
  generatePhase,
  LEASE,
  PhaseWorkload,
  SAMPLE_STEP_MINUTES,
  windowKey,
} from './workload';

const HOUR = 3_600_000;
const MIN = 60_000;

describe('fault-suite workload generator', () => {
  it('is deterministic for a seed and differs between seeds and days', () => {
    expect(generatePhase(7, 3)).toEqual(generatePhase(7, 3));
    expect(generatePhase(7, 3)).not.toEqual(generatePhase(8, 3));
    expect(generatePhase(7, 3).jobs[0].workloadId).not.toEqual(generatePhase(7, 4).jobs[0].workloadId);
  });

  it('keeps every job within its day, on quarter hours, and every sample strictly inside its job', () => {
    for (const day of [1, 2, 15, 31]) {
      const phase = generatePhase(42, day);
      const jobs = new Map(phase.jobs.map((j) => [j.workloadId, j]));
      for (const job of phase.jobs) {
        expect(job.startMs).toBeGreaterThanOrEqual(dayStartMs(day));
        expect(job.endMs).toBeLessThanOrEqual(dayStartMs(day + 1));
        expect(job.startMs % (15 * MIN)).toBe(0);
        expect(job.endMs - job.startMs).toBeGreaterThanOrEqual(30 * MIN);
      }
      for (const s of phase.samples) {
        const job = jobs.get(s.workloadId)!;
        expect(s.sampledAtMs - 5_000).toBeGreaterThanOrEqual(job.startMs);
        expect(s.sampledAtMs).toBeLessThan(job.endMs);
        expect(s.gpuIndex).toBeLessThan(job.gpuCount);
      }
      expect(new Set(phase.samples.map((s) => s.sampleId)).size).toBe(phase.samples.length);
      expect(phase.samples.some((s) => s.late)).toBe(true);
    }
  });

  it('never holds more GPUs at once than 3 x 8 H100 and 2 x 8 GB200 (always placeable)', () => {
    const phase = generatePhase(1, 9);
    const byClass = (gpuClass: string) => phase.jobs.filter((j) => j.gpuClass === gpuClass);
    expect(byClass('H100').reduce((n, j) => n + j.gpuCount, 0)).toBeLessThanOrEqual(24);
    expect(byClass('GB200').reduce((n, j) => n + j.gpuCount, 0)).toBeLessThanOrEqual(16);
  });
});

describe('expected usage (by hand)', () => {
  // One 4-GPU H100 job 09:30-11:00 on March 2: 30 min in hour 09 and 60 min in hour 10.
  const start = dayStartMs(2) + 9.5 * HOUR;
  const phase: PhaseWorkload = {
    day: 2,
    jobs: [
      {
        workloadId: 'j',
        workloadClass: 'training',
        gpuClass: 'H100',
        gpuCount: 4,
        startMs: start,
        endMs: start + 1.5 * HOUR,
      },
    ],
    samples: [
      // 10:00:04 is attributed at 09:59:59 (period midpoint): hour 09.
      {
        sampleId: 'a',
        workloadId: 'j',
        gpuIndex: 0,
        sampledAtMs: start + 30 * MIN + 4_000,
        utilizationPct: 50,
        powerW: 720,
        late: false,
      },
      {
        sampleId: 'b',
        workloadId: 'j',
        gpuIndex: 1,
        sampledAtMs: start + 40 * MIN,
        utilizationPct: 7,
        powerW: 1080,
        late: true,
      },
    ],
  };
  const usage = expectedUsage([phase]);
  const hour = (h: number) => new Date(dayStartMs(2) + h * HOUR).toISOString();

  it('splits allocated time at the hour and attributes a sample by its period midpoint', () => {
    expect(usage.get(windowKey({ leaseId: LEASE, gpuClass: 'H100', hourStart: hour(9) }))).toEqual({
      leaseId: LEASE,
      gpuClass: 'H100',
      hourStart: hour(9),
      gpuMsAllocated: 4 * 30 * MIN,
      busyMs: 5_000,
      energyMilliWh: 2_000, // 720 W x 10 s = 7,200 J = 2 Wh
      sampleCount: 1,
    });
    expect(usage.get(windowKey({ leaseId: LEASE, gpuClass: 'H100', hourStart: hour(10) }))).toMatchObject({
      gpuMsAllocated: 4 * HOUR,
      busyMs: 700,
      energyMilliWh: 3_000, // 1080 W x 10 s = 3 Wh
      sampleCount: 1,
    });
    expect(usage.size).toBe(2);
  });

  it('prices the month: 6 H100 GPU-hours at 2.50 and 5 Wh at 0.12 per kWh (0.06 cents, rounds to 0)', () => {
    expect(expectedInvoice(usage.values())).toEqual({
      lines: {
        [`${LEASE}:gpu-usage:H100:250000000`]: [String(6 * HOUR), '1500'],
        [`${LEASE}:energy:12000000`]: ['5000', '0'],
      },
      totalMinor: '1500',
    });
  });

  it('adds phases: the same job twice doubles every window', () => {
    const twice = expectedUsage([
      phase,
      { ...phase, samples: phase.samples.map((s) => ({ ...s, sampleId: `${s.sampleId}2` })) },
    ]);
    expect(
      twice.get(windowKey({ leaseId: LEASE, gpuClass: 'H100', hourStart: hour(10) }))?.gpuMsAllocated,
    ).toBe(8 * HOUR);
  });

  it('samples every SAMPLE_STEP_MINUTES per GPU', () => {
    const generated = generatePhase(3, 5);
    const job = generated.jobs[0];
    const expected = job.gpuCount * Math.ceil((job.endMs - job.startMs - MIN) / (SAMPLE_STEP_MINUTES * MIN));
    expect(generated.samples.filter((s) => s.workloadId === job.workloadId)).toHaveLength(expected);
  });
});

describe('half-even rounding', () => {
  it.each([
    [5n, 2n, 2n], // 2.5 -> 2
    [7n, 2n, 4n], // 3.5 -> 4
    [204n, 100n, 2n], // 2.04 -> 2
    [251n, 100n, 3n], // 2.51 -> 3
    [0n, 7n, 0n],
  ])('%s / %s = %s', (n, d, q) => {
    expect(divideHalfEven(n, d)).toBe(q);
  });
});
