import {
  buildPlan,
  GPU_CLASSES,
  plannedActiveGpus,
  primaryClassOf,
  rampShare,
  roundUpInterval,
  shapesFor,
  WORKLOAD_CLASSES,
} from './plan';

const MONTH_START = Date.parse('2027-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const FULL = { H100: 100_000, H200: 49_920, GB200: 69_984 };
const SMALL = { H100: 960, H200: 448, GB200: 576 };

describe('the Colossus month plan', () => {
  const month = buildPlan({ startMs: MONTH_START, days: 30, seed: 42, fleet: FULL, sampleBudget: 1_500_000 });
  const day = buildPlan({ startMs: MONTH_START, days: 1, seed: 7, fleet: SMALL, sampleBudget: 50_000 });

  it.each([
    ['a full month on the full fleet', month, FULL],
    ['one day on a 2,000-GPU fleet', day, SMALL],
  ])('%s: what each product asks for on its class follows the 40%% -> 85%% ramp', (_name, plan, fleet) => {
    for (let t = plan.startMs; t < plan.endMs; t += plan.stepMs * 7) {
      const active = plannedActiveGpus(plan, t);
      for (const workloadClass of WORKLOAD_CLASSES) {
        const gpus = fleet[primaryClassOf(workloadClass)];
        const share = active[workloadClass] / gpus;
        const biggest = Math.max(...shapesFor(workloadClass, gpus).map((s) => s.gpuCount)) / gpus;
        // at least the ramp (arrivals top it up each step), at most one workload above it
        expect([workloadClass, share >= rampShare(plan, t) - 1e-9]).toEqual([workloadClass, true]);
        expect([workloadClass, share <= rampShare(plan, t) + biggest + 1e-9]).toEqual([workloadClass, true]);
      }
    }
  });

  it('starts at 40 % and ends at 85 %', () => {
    expect(rampShare(month, month.startMs)).toBeCloseTo(0.4);
    expect(rampShare(month, month.startMs + 15 * DAY)).toBeCloseTo(0.625);
    expect(rampShare(month, month.endMs)).toBeCloseTo(0.85);
  });

  it('gangs are at most 72 GPUs; NVLink-domain work only for inference; times on step boundaries, in order', () => {
    for (const plan of [month, day]) {
      // one assertion over all workloads (tens of thousands): expect() per item is slow
      const wrong = plan.workloads.filter(
        (w) =>
          (w.gang && w.gpuCount > 72) ||
          (w.topology === 'same-nvlink-domain' && w.workloadClass !== 'inference') ||
          (w.arriveMs - plan.startMs) % plan.stepMs !== 0 ||
          (w.departMs - plan.startMs) % plan.stepMs !== 0 ||
          w.departMs <= w.arriveMs ||
          w.departMs > plan.endMs,
      );
      expect(wrong).toEqual([]);
      const arrivals = plan.workloads.map((w) => w.arriveMs);
      expect(arrivals).toEqual([...arrivals].sort((a, b) => a - b));
    }
    expect(month.workloads.some((w) => w.gang && w.gpuCount === 72)).toBe(true);
  });

  it('is the same month for the same seed, another for another seed', () => {
    const again = buildPlan({ startMs: MONTH_START, days: 1, seed: 7, fleet: SMALL, sampleBudget: 50_000 });
    const other = buildPlan({ startMs: MONTH_START, days: 1, seed: 8, fleet: SMALL, sampleBudget: 50_000 });
    expect(again.workloads).toEqual(day.workloads);
    expect(other.workloads).not.toEqual(day.workloads);
  });

  it('deal day is day 1 of a month, a quarter into a one-day run; incidents lie inside the run', () => {
    expect(month.dealAtMs).toBe(MONTH_START + DAY);
    expect(day.dealAtMs).toBe(MONTH_START + DAY / 4);
    for (const plan of [month, day]) {
      expect(plan.incidents.length).toBeGreaterThan(0);
      expect(plan.incidents.some((i) => i.kind === 'rack-drain')).toBe(true);
      for (const incident of plan.incidents) {
        expect(incident.atMs).toBeGreaterThanOrEqual(plan.startMs);
        const back = incident.kind === 'gpu-failures' ? incident.repairAtMs : incident.undrainAtMs;
        expect(back).toBeGreaterThan(incident.atMs);
        expect(back).toBeLessThan(plan.endMs);
      }
    }
  });

  it('samples every allocated GPU at the interval the budget allows, and says by how much it samples down', () => {
    for (const [plan, budget] of [
      [month, 1_500_000],
      [day, 50_000],
    ] as const) {
      const gpuSeconds = WORKLOAD_CLASSES.reduce((n, w) => n + plan.plannedGpuSeconds[w], 0);
      expect(plan.samplingFactor).toBe(plan.sampleIntervalMs / 10_000);
      expect(gpuSeconds / (plan.sampleIntervalMs / 1000)).toBeLessThanOrEqual(budget);
      const ticksPerStep = plan.stepMs / plan.sampleIntervalMs;
      expect(Number.isInteger(ticksPerStep) || plan.sampleIntervalMs % plan.stepMs === 0).toBe(true);
    }
    // a budget big enough for the node agents' own rate: no sampling down
    const everything = buildPlan({
      startMs: MONTH_START,
      days: 1,
      seed: 7,
      fleet: SMALL,
      sampleBudget: 1e12,
    });
    expect([everything.sampleIntervalMs, everything.samplingFactor]).toEqual([10_000, 1]);
  });

  it.each([
    ['below the agent rate: the agent rate', 3_000, 600_000, 10_000],
    ['between: the next divisor of the step (7.5 periods do not divide 60)', 70_000, 600_000, 100_000],
    ['above a step: whole steps', 700_000, 600_000, 1_200_000],
  ])('sample interval, %s', (_name, wanted, step, expected) => {
    expect(roundUpInterval(wanted, step)).toBe(expected);
  });

  it('a small class keeps only shapes up to a sixth of its fleet, and at least the smallest', () => {
    expect(shapesFor('training', 960).map((s) => s.gpuCount)).toEqual([32, 64, 72]);
    expect(shapesFor('inference', 72).map((s) => s.gpuCount)).toEqual([18]);
    expect(GPU_CLASSES).toContain(primaryClassOf('agentic'));
  });
});
