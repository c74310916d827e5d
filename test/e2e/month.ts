import { mulberry32 } from '@fleetledger/contracts';

/**
 * A generated month of activity on the end-to-end fleet (test/e2e/fleet.ts), March 2026 (UTC), for the
 * audit scenario. Deterministic for a seed, so a failing run can be reproduced.
 *
 *   acme      shared lease on H100 + GB200: one training job a day on H100 (8 GPUs, 16 once the quota
 *             is doubled on day DOUBLING_DAY) and one inference job a day on GB200 (8 GPUs, one NVLink domain)
 *   borealis  shared lease on H200: one agentic job a day (8 GPUs)
 *
 * Each job starts on the hour and runs 1-4 hours, all within its day, so one tenant's jobs of one class never
 * overlap and the quota always admits them. On RACK_FAILURE_DAY the acme training job is pinned to 09:00-13:00
 * and the rack under it fails at 10:00.
 */
export const MONTH = '2026-03';
export const MONTH_START = '2026-03-01T00:00:00.000Z';
export const DAYS = 31;
export const DOUBLING_DAY = 10;
export const RACK_FAILURE_DAY = 15;
export const RACK_FAILURE_HOUR = 10;

export interface GeneratedJob {
  workloadId: string;
  tenantId: 'acme' | 'borealis';
  workloadClass: 'training' | 'inference' | 'agentic';
  /** The class the default routing policy sends it to on this fleet. */
  gpuClass: 'H100' | 'H200' | 'GB200';
  gpuCount: number;
  topology?: 'same-nvlink-domain';
  start: string;
  end: string;
}

export function hourOf(day: number, hour: number): string {
  return new Date(Date.UTC(2026, 2, day, hour)).toISOString();
}

export function generateMonth(seed: number): GeneratedJob[] {
  const random = mulberry32(seed);
  const pick = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const jobs: GeneratedJob[] = [];
  for (let day = 1; day <= DAYS; day++) {
    const dd = String(day).padStart(2, '0');
    const window = () => {
      const startHour = pick(0, 19);
      return { start: hourOf(day, startHour), end: hourOf(day, startHour + pick(1, 4)) };
    };
    const training = day === RACK_FAILURE_DAY ? { start: hourOf(day, 9), end: hourOf(day, 13) } : window();
    jobs.push({
      workloadId: `acme-train-${dd}`,
      tenantId: 'acme',
      workloadClass: 'training',
      gpuClass: 'H100',
      gpuCount: day >= DOUBLING_DAY ? 16 : 8,
      ...training,
    });
    jobs.push({
      workloadId: `acme-infer-${dd}`,
      tenantId: 'acme',
      workloadClass: 'inference',
      gpuClass: 'GB200',
      gpuCount: 8,
      topology: 'same-nvlink-domain',
      ...window(),
    });
    jobs.push({
      workloadId: `borealis-agent-${dd}`,
      tenantId: 'borealis',
      workloadClass: 'agentic',
      gpuClass: 'H200',
      gpuCount: 8,
      ...window(),
    });
  }
  return jobs;
}

/** GPU-seconds each job holds, summed per tenant and class: what metering must record as allocated. */
export function allocatedGpuSeconds(jobs: readonly GeneratedJob[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const job of jobs) {
    const key = `${job.tenantId}/${job.gpuClass}`;
    const seconds = (Date.parse(job.end) - Date.parse(job.start)) / 1000;
    totals[key] = (totals[key] ?? 0) + job.gpuCount * seconds;
  }
  return totals;
}

/** A timeline entry: submit or release one job, in time order (releases first at equal instants). */
export interface TimelineStep {
  at: string;
  kind: 'submit' | 'release';
  job: GeneratedJob;
}

export function timeline(jobs: readonly GeneratedJob[]): TimelineStep[] {
  const steps: TimelineStep[] = jobs.flatMap((job) => [
    { at: job.start, kind: 'submit' as const, job },
    { at: job.end, kind: 'release' as const, job },
  ]);
  return steps.sort(
    (a, b) =>
      a.at.localeCompare(b.at) ||
      (a.kind === b.kind ? a.job.workloadId.localeCompare(b.job.workloadId) : a.kind === 'release' ? -1 : 1),
  );
}
