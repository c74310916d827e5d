/**
 * The Colossus month as a plan: pure, deterministic for a seed, no I/O. The runner (scenario.ts) plays it
 * against the services; the tests check its shape without starting anything.
 *
 *   - utilization ramp: the share of each class's fleet that work asks for goes from 40 % at the start to
 *     85 % at the end, linearly in simulated time;
 *   - workloads per class: inference (routed to GB200), agentic (H200), training (H100); NVLink-domain gangs
 *     of 18/36/72 GPUs, HGX gangs up to 72, and non-gang pools (replicas, shards) of up to 512;
 *   - deal day: the agentic product's limits x2 and the inference API tier x15 (quota events);
 *   - incidents: bursts of GPU failures and rack drains, each repaired later;
 *   - telemetry: one sample per allocated GPU every `sampleIntervalMs` of simulated time (a sample stands for
 *     10 s, so `samplingFactor` = interval / 10 s is how much of the real telemetry volume is left out).
 */
import { mulberry32 } from '@fleetledger/contracts';

export const GPU_CLASSES = ['H100', 'H200', 'GB200'] as const;
export type GpuClass = (typeof GPU_CLASSES)[number];
export const WORKLOAD_CLASSES = ['inference', 'agentic', 'training'] as const;
export type WorkloadClass = (typeof WORKLOAD_CLASSES)[number];
export type Topology = 'any' | 'same-nvlink-domain';

/** The routing policy the deal sets: each product on its class, with one fallback. */
export const ROUTES: Record<WorkloadClass, GpuClass[]> = {
  inference: ['GB200', 'H200'],
  agentic: ['H200', 'GB200'],
  training: ['H100', 'H200'],
};

/**
 * Quotas per workload class and GPU class, as a share of that GPU class's fleet, before the deal. On deal
 * day agentic/H200 is multiplied by 2 and inference/GB200 by 15, so both end near 90 % of their class.
 */
export const QUOTA_SHARES: { workloadClass: WorkloadClass; gpuClass: GpuClass; share: number }[] = [
  { workloadClass: 'inference', gpuClass: 'GB200', share: 0.06 },
  { workloadClass: 'inference', gpuClass: 'H200', share: 0.05 },
  { workloadClass: 'agentic', gpuClass: 'H200', share: 0.45 },
  { workloadClass: 'agentic', gpuClass: 'GB200', share: 0.04 },
  { workloadClass: 'training', gpuClass: 'H100', share: 1 },
  { workloadClass: 'training', gpuClass: 'H200', share: 0.05 },
];

export const DEAL_CHANGES: {
  workloadClass: WorkloadClass;
  gpuClass: GpuClass;
  factor: number;
  reason: string;
}[] = [
  {
    workloadClass: 'agentic',
    gpuClass: 'H200',
    factor: 2,
    reason: 'deal day: agentic product (Claude Code) limits x2',
  },
  {
    workloadClass: 'inference',
    gpuClass: 'GB200',
    factor: 15,
    reason: 'deal day: inference API tier throughput x15',
  },
];

export const RAMP_FROM = 0.4;
export const RAMP_TO = 0.85;
/** What one telemetry sample stands for (contracts: SAMPLE_PERIOD_SECONDS). */
export const SAMPLE_PERIOD_MS = 10_000;

interface Shape {
  gpuCount: number;
  gang: boolean;
  topology: Topology;
  weight: number;
}

/** What each product asks for. Gangs stay within 72 GPUs (one NVL72 domain, or nine HGX nodes). */
const SHAPES: Record<WorkloadClass, Shape[]> = {
  inference: [
    { gpuCount: 72, gang: true, topology: 'same-nvlink-domain', weight: 0.35 },
    { gpuCount: 36, gang: true, topology: 'same-nvlink-domain', weight: 0.25 },
    { gpuCount: 18, gang: true, topology: 'same-nvlink-domain', weight: 0.1 },
    { gpuCount: 144, gang: false, topology: 'any', weight: 0.2 },
    { gpuCount: 288, gang: false, topology: 'any', weight: 0.1 },
  ],
  agentic: [
    { gpuCount: 8, gang: false, topology: 'any', weight: 0.15 },
    { gpuCount: 16, gang: true, topology: 'any', weight: 0.15 },
    { gpuCount: 32, gang: false, topology: 'any', weight: 0.2 },
    { gpuCount: 64, gang: false, topology: 'any', weight: 0.25 },
    { gpuCount: 128, gang: false, topology: 'any', weight: 0.15 },
    { gpuCount: 256, gang: false, topology: 'any', weight: 0.1 },
  ],
  training: [
    { gpuCount: 32, gang: true, topology: 'any', weight: 0.2 },
    { gpuCount: 64, gang: true, topology: 'any', weight: 0.3 },
    { gpuCount: 72, gang: true, topology: 'any', weight: 0.2 },
    { gpuCount: 256, gang: false, topology: 'any', weight: 0.2 },
    { gpuCount: 512, gang: false, topology: 'any', weight: 0.1 },
  ],
};

/** Mean run time per product over a 30-day month; shorter runs scale it down (at least 1/8). */
const MEAN_HOURS: Record<WorkloadClass, number> = { inference: 18, agentic: 12, training: 30 };
const PRIMARY: Record<WorkloadClass, GpuClass> = { inference: 'GB200', agentic: 'H200', training: 'H100' };

export interface PlanOptions {
  /** First instant of the scenario (UTC, midnight of the month's first day). */
  startMs: number;
  days: number;
  seed: number;
  /** Healthy GPUs per class in the commissioned fleet. */
  fleet: Record<GpuClass, number>;
  /** Simulated time between two scheduling steps (all commands of a step carry the step's time). */
  stepMs?: number;
  /** Samples the run may send in all; the sample interval follows from it. */
  sampleBudget: number;
}

export interface PlannedWorkload {
  workloadId: string;
  workloadClass: WorkloadClass;
  gpuCount: number;
  gang: boolean;
  topology: Topology;
  priority: number;
  arriveMs: number;
  departMs: number;
}

export type Incident =
  | { atMs: number; kind: 'gpu-failures'; count: number; repairAtMs: number }
  | { atMs: number; kind: 'rack-drain'; undrainAtMs: number };

export interface Plan {
  startMs: number;
  endMs: number;
  stepMs: number;
  dealAtMs: number;
  workloads: PlannedWorkload[];
  incidents: Incident[];
  /** Simulated time between two samples of one GPU. */
  sampleIntervalMs: number;
  /** sampleIntervalMs / 10 s: one sample sent for this many a node agent would send. */
  samplingFactor: number;
  /** Simulated time between two window closes (and power readings). */
  closeEveryMs: number;
  /** Planned GPU-seconds allocated per class if every workload were placed at once. */
  plannedGpuSeconds: Record<WorkloadClass, number>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The share of each class's fleet the plan asks for at `atMs`: 40 % -> 85 %, linear. */
export function rampShare(plan: Pick<Plan, 'startMs' | 'endMs'>, atMs: number): number {
  const progress = Math.min(Math.max((atMs - plan.startMs) / (plan.endMs - plan.startMs), 0), 1);
  return RAMP_FROM + (RAMP_TO - RAMP_FROM) * progress;
}

/** The workload class whose first route is this GPU class (the ramp is per product on its class). */
export function primaryClassOf(workloadClass: WorkloadClass): GpuClass {
  return PRIMARY[workloadClass];
}

/** Shapes a class's fleet can hold: none bigger than a sixth of it (the smallest always stays). */
export function shapesFor(workloadClass: WorkloadClass, fleetGpus: number): Shape[] {
  const all = SHAPES[workloadClass];
  const fitting = all.filter((s) => s.gpuCount <= fleetGpus / 6);
  return fitting.length > 0 ? fitting : [all.reduce((a, b) => (a.gpuCount <= b.gpuCount ? a : b))];
}

function pickShape(shapes: Shape[], random: () => number): Shape {
  const total = shapes.reduce((sum, s) => sum + s.weight, 0);
  let r = random() * total;
  for (const shape of shapes) {
    r -= shape.weight;
    if (r <= 0) return shape;
  }
  return shapes[shapes.length - 1];
}

export function buildPlan(options: PlanOptions): Plan {
  const random = mulberry32(options.seed);
  const stepMs = options.stepMs ?? 10 * 60_000;
  const startMs = options.startMs;
  const endMs = startMs + options.days * DAY_MS;
  const quantize = (ms: number) => startMs + Math.round((ms - startMs) / stepMs) * stepMs;
  const durationScale = Math.max(options.days / 30, 1 / 8);
  const span = { startMs, endMs };

  const workloads: PlannedWorkload[] = [];
  const plannedGpuSeconds: Record<WorkloadClass, number> = { inference: 0, agentic: 0, training: 0 };
  let sequence = 0;
  for (const workloadClass of WORKLOAD_CLASSES) {
    const fleetGpus = options.fleet[PRIMARY[workloadClass]];
    const shapes = shapesFor(workloadClass, fleetGpus);
    const meanMs = MEAN_HOURS[workloadClass] * HOUR_MS * durationScale;
    // Active planned work: departures in a min-heap would be faster; a sorted sweep per step is plenty here.
    const active: { gpuCount: number; departMs: number }[] = [];
    let activeGpus = 0;
    for (let t = startMs; t < endMs; t += stepMs) {
      for (let i = active.length - 1; i >= 0; i--)
        if (active[i].departMs <= t) {
          activeGpus -= active[i].gpuCount;
          active.splice(i, 1);
        }
      const target = rampShare(span, t) * fleetGpus;
      while (activeGpus < target) {
        const shape = pickShape(shapes, random);
        // Exponential run time, at least two steps; work still running at the end is released then.
        const runMs = Math.max(2 * stepMs, -Math.log(1 - random()) * meanMs);
        const departMs = Math.min(quantize(t + runMs), endMs);
        sequence += 1;
        workloads.push({
          workloadId: `${workloadClass}-${String(sequence).padStart(6, '0')}`,
          workloadClass,
          gpuCount: shape.gpuCount,
          gang: shape.gang,
          topology: shape.topology,
          priority: 50,
          arriveMs: t,
          departMs,
        });
        plannedGpuSeconds[workloadClass] += (shape.gpuCount * (departMs - t)) / 1000;
        active.push({ gpuCount: shape.gpuCount, departMs });
        activeGpus += shape.gpuCount;
      }
    }
  }
  workloads.sort((a, b) => a.arriveMs - b.arriveMs || a.workloadId.localeCompare(b.workloadId));

  // Deal day: day 1 of a month-long run; a quarter into shorter runs.
  const dealAtMs = quantize(options.days >= 3 ? startMs + DAY_MS : startMs + (endMs - startMs) / 4);

  // Four failure bursts a day (1 per 10,000 GPUs each, at least one GPU), repaired 12 h later (or an
  // eighth of the run); one rack drain every two days (at least one), back a day later (or a sixth).
  const totalGpus = GPU_CLASSES.reduce((n, c) => n + options.fleet[c], 0);
  const incidents: Incident[] = [];
  const bursts = Math.max(1, Math.round(4 * options.days));
  const repairMs = Math.min(12 * HOUR_MS, (endMs - startMs) / 8);
  for (let i = 0; i < bursts; i++) {
    const atMs = quantize(startMs + ((i + 0.5) * (endMs - startMs)) / bursts);
    if (atMs >= endMs) continue;
    incidents.push({
      atMs,
      kind: 'gpu-failures',
      count: Math.max(1, Math.round(totalGpus / 10_000)),
      repairAtMs: Math.min(quantize(atMs + repairMs), endMs - stepMs),
    });
  }
  const drains = Math.max(1, Math.floor(options.days / 2));
  const undrainMs = Math.min(DAY_MS, (endMs - startMs) / 6);
  for (let i = 0; i < drains; i++) {
    const atMs = quantize(startMs + ((i + 0.3 + 0.4 * random()) * (endMs - startMs)) / drains);
    if (atMs >= endMs) continue;
    incidents.push({
      atMs,
      kind: 'rack-drain',
      undrainAtMs: Math.min(quantize(atMs + undrainMs), endMs - stepMs),
    });
  }
  incidents.sort((a, b) => a.atMs - b.atMs);

  // Telemetry: every allocated GPU reports; the interval is what the sample budget allows, in whole
  // 10 s periods, at least 10 s (the node agent's own rate), rounded up to a divisor of the step.
  const totalGpuSeconds = WORKLOAD_CLASSES.reduce((n, w) => n + plannedGpuSeconds[w], 0);
  const wantedMs = Math.max(SAMPLE_PERIOD_MS, (totalGpuSeconds * 1000) / Math.max(options.sampleBudget, 1));
  const sampleIntervalMs = roundUpInterval(wantedMs, stepMs);
  return {
    startMs,
    endMs,
    stepMs,
    dealAtMs,
    workloads,
    incidents,
    sampleIntervalMs,
    samplingFactor: sampleIntervalMs / SAMPLE_PERIOD_MS,
    closeEveryMs:
      options.days >= 2 ? DAY_MS : Math.max(stepMs, quantize(startMs + (endMs - startMs) / 4) - startMs),
    plannedGpuSeconds,
  };
}

/**
 * A sample interval that ticks on step boundaries: below a step, the largest divisor of the step (in whole
 * 10 s periods) not below `wantedMs`; above, a whole number of steps.
 */
export function roundUpInterval(wantedMs: number, stepMs: number): number {
  if (wantedMs >= stepMs) return Math.ceil(wantedMs / stepMs) * stepMs;
  const periods = stepMs / SAMPLE_PERIOD_MS;
  for (let n = Math.ceil(wantedMs / SAMPLE_PERIOD_MS); n <= periods; n++)
    if (periods % n === 0) return n * SAMPLE_PERIOD_MS;
  return stepMs;
}

/** Planned GPUs active per class at `atMs` (what the plan asks for, before any decision). */
export function plannedActiveGpus(plan: Plan, atMs: number): Record<WorkloadClass, number> {
  const out: Record<WorkloadClass, number> = { inference: 0, agentic: 0, training: 0 };
  for (const w of plan.workloads)
    if (w.arriveMs <= atMs && atMs < w.departMs) out[w.workloadClass] += w.gpuCount;
  return out;
}

/** The month the run is billed in (YYYY-MM of its start). */
export function periodOf(startMs: number): string {
  return new Date(startMs).toISOString().slice(0, 7);
}

/** First instant of the month after `period`. */
export function periodEndMs(period: string): number {
  const [year, month] = period.split('-').map(Number);
  return Date.UTC(year, month, 1);
}
