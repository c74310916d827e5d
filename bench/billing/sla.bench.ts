// Billing benchmark, SLA outages: the pure computation finalizing needs (domain/availability.ts) at fleet scale.
// One class of 80,000 GPUs (10,000 HGX nodes in 1,250 racks), 1,000 shared leases committing 95 % of it, 50
// exclusive rack leases, and a month of GPU failures and repairs. Prints figures; asserts nothing.
//   node -r @swc-node/register bench/billing/sla.bench.ts [--changes 20000] [--tenants 100] [--committed 0.95]
import os from 'node:os';
import {
  AvailabilityChange,
  ClassFleet,
  GpuAvailability,
  leaseOutages,
} from '../../apps/billing/src/domain/availability';
import { LeaseTerms } from '../../apps/billing/src/domain/leases';

const arg = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const RACKS = 1_250;
const GPUS_PER_RACK = 64;
const SHARED_LEASES = 1_000;
const EXCLUSIVE_RACKS = 50;
const CHANGES = arg('changes', 20_000);
const TENANTS = arg('tenants', 100);
/** Share of the shared pool that shared leases commit: at 1 every failure there is an outage. */
const COMMITTED = arg('committed', 0.95);
const START = Date.parse('2026-11-01T00:00:00.000Z');
const MONTH_MS = 30 * 86_400_000;

let seed = 42;
const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;

const initial: GpuAvailability[] = [];
for (let r = 0; r < RACKS; r++)
  for (let g = 0; g < GPUS_PER_RACK; g++)
    initial.push({
      gpuId: `r${r}-g${g}`,
      rackId: `r${r}`,
      hallId: `h${Math.floor(r / 125)}`,
      available: true,
      eventId: `commissioned-r${r}`,
    });
// failures at random instants, each repaired 1 to 72 hours later (when still in the month)
const changes: AvailabilityChange[] = [];
for (let i = 0; i < CHANGES / 2; i++) {
  const gpu = initial[Math.floor(random() * initial.length)];
  const failedAt = START + Math.floor(random() * MONTH_MS);
  changes.push({ ...gpu, atMs: failedAt, available: false, eventId: `failed-${i}` });
  const repairedAt = failedAt + Math.floor((1 + random() * 71) * 3_600_000);
  if (repairedAt < START + MONTH_MS)
    changes.push({ ...gpu, atMs: repairedAt, available: true, eventId: `repaired-${i}` });
}
changes.sort((a, b) => a.atMs - b.atMs);
const fleet: ClassFleet = { initial, changes };

const sharedGpus = (RACKS - EXCLUSIVE_RACKS) * GPUS_PER_RACK;
const term = {
  startMs: Date.parse('2026-01-01T00:00:00.000Z'),
  endMs: Date.parse('2027-01-01T00:00:00.000Z'),
};
const leases: LeaseTerms[] = [];
for (let i = 0; i < SHARED_LEASES; i++)
  leases.push({
    leaseId: `shared-${i}`,
    tenantId: `tenant-${i % TENANTS}`,
    ratePlanId: 'bench',
    term,
    committedGpus: { H100: Math.floor((sharedGpus * COMMITTED) / SHARED_LEASES) },
    sourceEventIds: [`signed-shared-${i}`],
    exclusivity: 'shared',
  });
for (let r = 0; r < EXCLUSIVE_RACKS; r++)
  leases.push({
    leaseId: `exclusive-${r}`,
    tenantId: `tenant-${r % TENANTS}`,
    ratePlanId: 'bench',
    term,
    committedGpus: { H100: GPUS_PER_RACK - 2 },
    sourceEventIds: [`signed-exclusive-${r}`],
    exclusivity: 'exclusive',
    scope: { hallIds: [], rackIds: [`r${r}`] },
  });

const cpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
const row = (name: string, value: string) => process.stdout.write(`${name.padEnd(46)} ${value}\n`);

let t0 = performance.now();
let c0 = cpuMs();
const all = leaseOutages({ period: '2026-11', leases, allLeases: leases, fleet: () => fleet });
const allMs = performance.now() - t0;
const allCpu = cpuMs() - c0;

t0 = performance.now();
c0 = cpuMs();
let perTenantOutages = 0;
for (let t = 0; t < TENANTS; t++) {
  const own = leases.filter((lease) => lease.tenantId === `tenant-${t}`);
  perTenantOutages += leaseOutages({
    period: '2026-11',
    leases: own,
    allLeases: leases,
    fleet: () => fleet,
  }).length;
}
const perTenantMs = performance.now() - t0;
const perTenantCpu = cpuMs() - c0;

row(
  'GPUs / health changes in the month',
  `${initial.length.toLocaleString('en-US')} / ${changes.length.toLocaleString('en-US')}`,
);
row(
  'leases (shared / exclusive)',
  `${SHARED_LEASES} / ${EXCLUSIVE_RACKS}, shared commit ${(COMMITTED * 100).toFixed(1)} %`,
);
row(
  'leases with an outage',
  `${all.length} (${all.filter((o) => o.leaseId.startsWith('exclusive')).length} exclusive)`,
);
row(
  'largest source-event list of a credit line',
  String(Math.max(0, ...all.map((o) => o.sourceEventIds.length))),
);
row('all leases in one call, wall / cpu', `${(allMs / 1000).toFixed(2)} s / ${(allCpu / 1000).toFixed(2)} s`);
row(
  `per tenant (${TENANTS} finalizes), wall / cpu`,
  `${(perTenantMs / 1000).toFixed(2)} s / ${(perTenantCpu / 1000).toFixed(2)} s (${perTenantOutages} outages)`,
);
row('load average (1 min) at end', os.loadavg()[0].toFixed(1));
