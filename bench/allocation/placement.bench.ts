/**
 * The pure placement engine on a 220,000-GPU fleet:
 *   1. packing: a realistic mix submitted until the first capacity/topology/power refusal;
 *      prints the share of healthy GPUs allocated at that moment (target >= 95%);
 *   2. churn: submit/release at high utilization; prints decisions/s and latency percentiles
 *      (target >= 5,000/s, p99 < 5 ms).
 * Run: node -r @swc-node/register bench/allocation/placement.bench.ts
 */
import { allocation, mulberry32 } from '@fleetledger/contracts';
import { runRelease, runSubmit } from '../../apps/allocation/src/domain/ledger';
import { isRejection } from '../../apps/allocation/src/domain/rejection';
import { AllocationState } from '../../apps/allocation/src/domain/state';
import { World } from '../../apps/allocation/test/allocation-world';
import { HallSpec } from '../../apps/allocation/test/fleet-builder';

const TENANTS = 10;
const AT = '2026-03-01T00:00:00.000Z';

function fleet(): HallSpec[] {
  const racks: HallSpec['racks'] = [
    ...Array.from({ length: 3125 }, () => ({ gpuClass: 'H100' as const })), // 100,000 GPUs, 4 HGX nodes per rack
    ...Array.from({ length: 1500 }, () => ({ gpuClass: 'H200' as const })), //  48,000 GPUs
    ...Array.from({ length: 1000 }, () => ({ gpuClass: 'GB200' as const })), //  72,000 GPUs, NVL72
  ];
  const halls: HallSpec[] = [];
  for (let i = 0; i < racks.length; i += 100) halls.push({ racks: racks.slice(i, i + 100) });
  return halls;
}

const pick = <T>(r: () => number, xs: readonly T[]) => xs[Math.floor(r() * xs.length)];

/** Inference: GB200-sized gangs; agentic: small, often loose; training: HGX gangs of whole nodes. */
function request(r: () => number, n: number): allocation.WorkloadRequest {
  const roll = r();
  const tenantId = `tenant-${Math.floor(r() * TENANTS)}`;
  if (roll < 0.4)
    return {
      workloadId: `w${n}`,
      tenantId,
      workloadClass: 'inference',
      gpuCount: pick(r, [4, 4, 8, 8, 16, 36, 72]),
      gang: true,
      topology: 'any',
      priority: pick(r, [50, 80]),
    };
  if (roll < 0.7)
    return {
      workloadId: `w${n}`,
      tenantId,
      workloadClass: 'agentic',
      gpuCount: pick(r, [1, 2, 4, 8]),
      gang: r() < 0.5,
      topology: 'any',
      priority: 40,
    };
  return {
    workloadId: `w${n}`,
    tenantId,
    workloadClass: 'training',
    gpuCount: pick(r, [8, 16, 32, 64, 128, 256]),
    gang: true,
    topology: 'any',
    priority: 10,
  };
}

function setup(): World {
  const t0 = performance.now();
  const w = new World(fleet(), { sitePowerCapW: 330_000_000 });
  const installed = w.state.view.installedGpus();
  for (let t = 0; t < TENANTS; t++) {
    const committed: allocation.CommittedGpus = {};
    for (const c of allocation.GPU_CLASSES) committed[c] = Math.floor(installed[c] / TENANTS);
    w.activeLease(`lease-${t}`, `tenant-${t}`, committed);
    for (const c of allocation.GPU_CLASSES)
      for (const wc of allocation.WORKLOAD_CLASSES)
        w.quota(`tenant-${t}`, c, wc, { kind: 'set', nominal: installed[c], borrowLimit: 0 });
  }
  const total = Object.values(installed).reduce((a, b) => a + b, 0);
  console.log(
    `fleet: ${total} GPUs (${JSON.stringify(installed)}), built in ${(performance.now() - t0).toFixed(0)} ms, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`,
  );
  return w;
}

function utilization(state: AllocationState) {
  let allocated = 0;
  let healthy = 0;
  for (const c of allocation.GPU_CLASSES) {
    const u = state.view.utilization(c);
    allocated += u.allocated;
    healthy += u.healthy;
  }
  return allocated / healthy;
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function main() {
  const w = setup();
  const state = w.state;
  const r = mulberry32(42);
  let n = 0;
  const latencies: number[] = [];
  const t0 = performance.now();
  for (;;) {
    const req = request(r, n++);
    const s = performance.now();
    const events = runSubmit(state, req, AT);
    latencies.push(performance.now() - s);
    if (isRejection(events)) throw new Error(events.detail);
    const last = events.at(-1)!;
    if (last.type !== allocation.WorkloadPlaced.type) {
      const p = last.payload as { reason: string; detail: string };
      console.log(`packing: first refusal after ${n} submissions (${p.reason}: ${p.detail})`);
      console.log(
        `packing: utilization at first refusal ${(utilization(state) * 100).toFixed(2)}% of healthy GPUs; ` +
          allocation.GPU_CLASSES.map((c) => {
            const u = state.view.utilization(c);
            return `${c} ${((u.allocated / u.healthy) * 100).toFixed(1)}%`;
          }).join(', '),
      );
      break;
    }
  }
  const packMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  console.log(
    `packing: ${n} decisions in ${packMs.toFixed(0)} ms = ${((n / packMs) * 1000).toFixed(0)}/s, p50 ${percentile(latencies, 0.5).toFixed(3)} ms, p99 ${percentile(latencies, 0.99).toFixed(3)} ms, max ${latencies.at(-1)!.toFixed(2)} ms`,
  );

  // Churn at high utilization: release a random placed workload, submit a new one.
  state.queue.clear(); // the benchmark measures decisions, not the backlog
  const placed = [...state.placements.keys()];
  const churn: number[] = [];
  const ops = 20_000;
  const c0 = performance.now();
  const outcomes = { placed: 0, queued: 0, rejected: 0 };
  for (let i = 0; i < ops; i++) {
    const idx = Math.floor(r() * placed.length);
    const victim = placed[idx];
    placed[idx] = placed[placed.length - 1];
    placed.pop();
    let s = performance.now();
    runRelease(state, victim, AT);
    state.queue.clear();
    churn.push(performance.now() - s);
    const req = request(r, n++);
    s = performance.now();
    const events = runSubmit(state, req, AT);
    churn.push(performance.now() - s);
    if (isRejection(events)) continue;
    const last = events.at(-1)!.type;
    if (last === allocation.WorkloadPlaced.type) {
      outcomes.placed++;
      placed.push(req.workloadId);
    } else if (last === allocation.WorkloadQueued.type) outcomes.queued++;
    else outcomes.rejected++;
  }
  const churnMs = performance.now() - c0;
  churn.sort((a, b) => a - b);
  console.log(
    `churn: ${churn.length} decisions (release + submit) in ${churnMs.toFixed(0)} ms = ${((churn.length / churnMs) * 1000).toFixed(0)}/s, p50 ${percentile(churn, 0.5).toFixed(3)} ms, p99 ${percentile(churn, 0.99).toFixed(3)} ms, max ${churn.at(-1)!.toFixed(2)} ms; submissions ${JSON.stringify(outcomes)}; utilization ${(utilization(state) * 100).toFixed(2)}%`,
  );
}

main();
