/**
 * The fault suite's workload, and what the platform must make of it, as pure functions: no service code,
 * no I/O. The expectation is computed here from the generated facts alone (who held how many GPUs when,
 * which samples were sent), so a service that loses, double-counts or mis-attributes anything under a
 * fault disagrees with it.
 *
 * One phase = one UTC day of March 2026 for the tenant `acme` on one lease: a few gang workloads (training
 * on H100, inference on GB200, both routed there by the default policy and always within capacity), one
 * telemetry sample a GPU every SAMPLE_STEP_MINUTES while it is held, a share of them sent late (after the
 * day's windows closed: they become usage corrections).
 */

export const TENANT = 'acme';
export const LEASE = 'lease-faults';
export const RATE_PLAN = 'rp-faults';
export const SAMPLE_STEP_MINUTES = 3;
/** Per thousand samples, how many arrive after their window closed (corrections). */
export const LATE_PER_MILLE = 40;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const SAMPLE_PERIOD_MS = 10_000;

// Prices in micro-minor units per GPU-hour / kWh, as in the rate plan the suite publishes.
export const PRICES = { H100: 250_000_000n, GB200: 600_000_000n, energyPerKwh: 12_000_000n } as const;

export interface Job {
  workloadId: string;
  workloadClass: 'training' | 'inference';
  gpuClass: 'H100' | 'GB200';
  gpuCount: number;
  startMs: number;
  endMs: number;
}

export interface PlannedSample {
  sampleId: string;
  workloadId: string;
  /** Which GPU of the placement (its index in the placement's gpuIds): the GPUs are allocation's choice. */
  gpuIndex: number;
  sampledAtMs: number;
  /** Whole percent, so busy time (utilization x 10 s) is an exact number of milliseconds. */
  utilizationPct: number;
  powerW: number;
  /** Sent after the day's windows are closed: a correction. */
  late: boolean;
}

export interface PhaseWorkload {
  day: number;
  jobs: Job[];
  samples: PlannedSample[];
}

/** mulberry32: a small, well-known seeded generator; the same seed gives the same workload everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function dayStartMs(day: number): number {
  return Date.UTC(2026, 2, day);
}

/**
 * One day's workload for a seed. Jobs start on a quarter hour and last 30 min to 4 h within the day; at
 * most 3 x 8 H100 and 2 x 8 GB200 GPUs are ever held, far below the fleet and the quotas, so every job is
 * placed whatever else runs. Samples fall 1 minute after each step from the start, strictly inside the
 * job's interval (their attribution instant, 5 s earlier, too).
 */
export function generatePhase(seed: number, day: number): PhaseWorkload {
  const random = seededRandom(seed * 1000 + day);
  const pick = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const dd = String(day).padStart(2, '0');
  const jobs: Job[] = [];
  const kinds: Job['workloadClass'][] = ['training', 'training', 'training', 'inference', 'inference'];
  kinds.forEach((workloadClass, i) => {
    const startMs = dayStartMs(day) + pick(0, 19) * HOUR_MS + pick(0, 3) * 15 * MINUTE_MS;
    const endMs = startMs + pick(2, 16) * 15 * MINUTE_MS;
    jobs.push({
      workloadId: `fault-${dd}-${i}-${workloadClass}`,
      workloadClass,
      gpuClass: workloadClass === 'training' ? 'H100' : 'GB200',
      gpuCount: pick(1, 2) * 4,
      startMs,
      endMs,
    });
  });
  const samples: PlannedSample[] = [];
  for (const job of jobs)
    for (let gpuIndex = 0; gpuIndex < job.gpuCount; gpuIndex++)
      for (let at = job.startMs + MINUTE_MS; at < job.endMs; at += SAMPLE_STEP_MINUTES * MINUTE_MS)
        samples.push({
          sampleId: `${job.workloadId}/g${gpuIndex}/${new Date(at).toISOString()}`,
          workloadId: job.workloadId,
          gpuIndex,
          sampledAtMs: at,
          utilizationPct: pick(0, 100),
          powerW: pick(200, 1100),
          late: pick(0, 999) < LATE_PER_MILLE,
        });
  return { day, jobs, samples };
}

/** What metering must hold for one lease, GPU class and UTC hour. */
export interface ExpectedWindow {
  leaseId: string;
  gpuClass: string;
  hourStart: string;
  gpuMsAllocated: number;
  busyMs: number;
  energyMilliWh: number;
  sampleCount: number;
}

export function windowKey(w: { leaseId: string; gpuClass: string; hourStart: string }): string {
  return `${w.leaseId}|${w.gpuClass}|${w.hourStart}`;
}

/**
 * Usage per lease, class and hour from the workload alone: allocated GPU-ms is each job's GPUs times its
 * overlap with the hour; busy and energy add up the samples by the hour of their attribution instant
 * (the middle of the 10 s period a sample ends: sampledAt - 5 s), energy converted from millijoules to
 * milliwatt-hours once per window, rounded half up (the contract's unit).
 */
export function expectedUsage(phases: readonly PhaseWorkload[]): Map<string, ExpectedWindow> {
  const sums = new Map<string, ExpectedWindow & { energyMj: number }>();
  const at = (gpuClass: string, hourStartMs: number) => {
    const hourStart = new Date(hourStartMs).toISOString();
    const key = windowKey({ leaseId: LEASE, gpuClass, hourStart });
    let w = sums.get(key);
    if (!w) {
      w = {
        leaseId: LEASE,
        gpuClass,
        hourStart,
        gpuMsAllocated: 0,
        busyMs: 0,
        energyMilliWh: 0,
        sampleCount: 0,
        energyMj: 0,
      };
      sums.set(key, w);
    }
    return w;
  };
  for (const phase of phases) {
    const jobs = new Map(phase.jobs.map((job) => [job.workloadId, job]));
    for (const job of phase.jobs)
      for (let hour = Math.floor(job.startMs / HOUR_MS) * HOUR_MS; hour < job.endMs; hour += HOUR_MS) {
        const overlapMs = Math.min(job.endMs, hour + HOUR_MS) - Math.max(job.startMs, hour);
        at(job.gpuClass, hour).gpuMsAllocated += overlapMs * job.gpuCount;
      }
    for (const sample of phase.samples) {
      const attributedMs = sample.sampledAtMs - SAMPLE_PERIOD_MS / 2;
      const w = at(jobs.get(sample.workloadId)!.gpuClass, Math.floor(attributedMs / HOUR_MS) * HOUR_MS);
      w.busyMs += sample.utilizationPct * (SAMPLE_PERIOD_MS / 100);
      w.energyMj += sample.powerW * SAMPLE_PERIOD_MS;
      w.sampleCount += 1;
    }
  }
  const out = new Map<string, ExpectedWindow>();
  for (const [key, { energyMj, ...w }] of sums)
    out.set(key, { ...w, energyMilliWh: Math.floor((energyMj + 1800) / 3600) });
  return out;
}

/** Rounds numerator / denominator to an integer, half to even (the rate plan's `half-even-per-line`). */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  const twice = 2n * (numerator % denominator);
  if (twice > denominator || (twice === denominator && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}

export interface ExpectedInvoice {
  /** lineId -> [quantity, amountMinor] */
  lines: Record<string, [string, string]>;
  totalMinor: string;
}

/**
 * The month's draft invoice recomputed from the expected usage: one GPU-usage line per class (quantity in
 * milli-GPU-seconds, price per GPU-hour) and one energy line (quantity in milliwatt-hours, price per kWh),
 * each rounded once, half to even. The lease commits more GPUs than the workload ever holds and the plan
 * has no monthly fee, so there is no overage or committed line.
 */
export function expectedInvoice(usage: Iterable<ExpectedWindow>): ExpectedInvoice {
  const gpuMs: Record<string, bigint> = {};
  let energyMilliWh = 0n;
  for (const w of usage) {
    gpuMs[w.gpuClass] = (gpuMs[w.gpuClass] ?? 0n) + BigInt(w.gpuMsAllocated);
    energyMilliWh += BigInt(w.energyMilliWh);
  }
  const lines: Record<string, [string, string]> = {};
  let total = 0n;
  for (const [gpuClass, quantity] of Object.entries(gpuMs)) {
    if (quantity === 0n) continue;
    const price = PRICES[gpuClass as 'H100' | 'GB200'];
    const amount = divideHalfEven(quantity * price, 1000n * 3600n * 1_000_000n);
    lines[`${LEASE}:gpu-usage:${gpuClass}:${price}`] = [quantity.toString(), amount.toString()];
    total += amount;
  }
  if (energyMilliWh > 0n) {
    const amount = divideHalfEven(energyMilliWh * PRICES.energyPerKwh, 1_000_000n * 1_000_000n);
    lines[`${LEASE}:energy:${PRICES.energyPerKwh}`] = [energyMilliWh.toString(), amount.toString()];
    total += amount;
  }
  return { lines, totalMinor: total.toString() };
}
