/**
 * Seeds a running FleetLedger stack with a small Colossus-shaped demo, over the services' HTTP APIs:
 *   - a fleet of 3,392 GPUs in 11 halls (5 H100, 2 H200, 4 GB200 NVL72), imported into inventory;
 *   - rate plan `demo-standard` v1 in billing;
 *   - one exclusive lease (tenant `acme`, one H100 hall + one GB200 hall) and one shared lease (tenant `globex`);
 *   - quotas per tenant, with acme's inference limit doubled ("Claude Code limits x2");
 *   - a handful of workloads (inference -> GB200, training -> H100, agentic), placed by allocation;
 *   - a burst of telemetry samples for every placed GPU, to metering's batch endpoint.
 *
 * Idempotent: a re-run changes nothing. Fleet import appends nothing the second time, and every command that
 * already happened answers 409 (duplicate lease, published rate-plan version, unchanged quota, known workload),
 * which counts as done. Samples carry deterministic ids (GPU + instant from the placement time), so metering
 * reports them as duplicates.
 *
 *   node dist/scripts/seed-demo.js        (run by scripts/stack.sh once the services are ready)
 *   SEED_TOKEN=... INVENTORY_URL=... ALLOCATION_URL=... METERING_URL=... BILLING_URL=... node dist/scripts/seed-demo.js
 */

const urls = {
  inventory: process.env.INVENTORY_URL ?? 'http://127.0.0.1:3001',
  allocation: process.env.ALLOCATION_URL ?? 'http://127.0.0.1:3002',
  metering: process.env.METERING_URL ?? 'http://127.0.0.1:3003',
  billing: process.env.BILLING_URL ?? 'http://127.0.0.1:3004',
};

/** The seed's bearer token (operator, finance, telemetry agent), minted by scripts/stack.sh. */
const SEED_TOKEN = process.env.SEED_TOKEN;

type Service = keyof typeof urls;
type GpuClass = 'H100' | 'H200' | 'GB200';

interface Reply {
  status: number;
  body: unknown;
}

class SeedError extends Error {}

function log(line: string): void {
  process.stdout.write(`[seed] ${line}\n`);
}

async function call(service: Service, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply> {
  const response = await fetch(`${urls[service]}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(SEED_TOKEN ? { authorization: `Bearer ${SEED_TOKEN}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: response.status, body: parsed };
}

function errorOf(reply: Reply): string {
  const body = reply.body as { error?: string; message?: string } | undefined;
  return body && typeof body === 'object'
    ? `${body.error ?? ''} ${body.message ?? ''}`.trim()
    : String(reply.body);
}

/** A command: 2xx is done now, 409 means it was done before (a re-run); anything else stops the seed. */
async function command(service: Service, path: string, body: unknown, what: string): Promise<Reply> {
  const reply = await call(service, 'POST', path, body);
  if (reply.status >= 200 && reply.status < 300) log(`${what}: done`);
  else if (reply.status === 409) log(`${what}: already there (${errorOf(reply)})`);
  else throw new SeedError(`${what}: ${service} answered ${reply.status} ${errorOf(reply)}`);
  return reply;
}

async function query<T>(service: Service, path: string): Promise<T> {
  const reply = await call(service, 'GET', path);
  if (reply.status !== 200) throw new SeedError(`GET ${service}${path}: ${reply.status} ${errorOf(reply)}`);
  return reply.body as T;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new SeedError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

// --- the demo ---------------------------------------------------------------------------------------------

const SITE = 'col1';
const HALLS: {
  gpuClass: GpuClass;
  racks: number;
  nodesPerRack: number;
  nodePowerW: number;
  rackBudgetW: number;
  hallCapW: number;
}[] = [
  ...Array.from({ length: 5 }, () => ({
    gpuClass: 'H100' as const,
    racks: 10,
    nodesPerRack: 4,
    nodePowerW: 10_200,
    rackBudgetW: 45_000,
    hallCapW: 27_000_000,
  })),
  ...Array.from({ length: 2 }, () => ({
    gpuClass: 'H200' as const,
    racks: 10,
    nodesPerRack: 4,
    nodePowerW: 10_200,
    rackBudgetW: 45_000,
    hallCapW: 33_000_000,
  })),
  ...Array.from({ length: 4 }, () => ({
    gpuClass: 'GB200' as const,
    racks: 4,
    nodesPerRack: 18,
    nodePowerW: 5_900,
    rackBudgetW: 120_000,
    hallCapW: 27_000_000,
  })),
];
const GPUS_PER_NODE: Record<GpuClass, number> = { H100: 8, H200: 8, GB200: 4 };
const hallId = (index: number) => `${SITE}-h${String(index + 1).padStart(2, '0')}`;

function fleetFile() {
  return {
    site: { id: SITE, name: 'Colossus 1 (demo)', powerCapW: 300_000_000 },
    halls: HALLS.map((hall, h) => ({
      id: hallId(h),
      name: `Hall ${h + 1} (${hall.gpuClass})`,
      powerCapW: hall.hallCapW,
      racks: Array.from({ length: hall.racks }, (_, r) => ({
        id: `${hallId(h)}-r${String(r + 1).padStart(3, '0')}`,
        gpuClass: hall.gpuClass,
        powerBudgetW: hall.rackBudgetW,
        nodeCount: hall.nodesPerRack,
        nodePowerW: hall.nodePowerW,
      })),
    })),
  };
}

function fleetGpus(): Record<GpuClass, number> {
  const totals: Record<GpuClass, number> = { H100: 0, H200: 0, GB200: 0 };
  for (const hall of HALLS)
    totals[hall.gpuClass] += hall.racks * hall.nodesPerRack * GPUS_PER_NODE[hall.gpuClass];
  return totals;
}

const firstHallOf = (gpuClass: GpuClass) => hallId(HALLS.findIndex((h) => h.gpuClass === gpuClass));
const hallGpus = (gpuClass: GpuClass) => {
  const hall = HALLS.find((h) => h.gpuClass === gpuClass)!;
  return hall.racks * hall.nodesPerRack * GPUS_PER_NODE[gpuClass];
};

const HOUR_MS = 3_600_000;
const now = Date.now();
/** Leases run from the first day of last month for a year, so any demo instant lies inside them. */
const termStart = (() => {
  const date = new Date(now);
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, 1)).toISOString();
})();
const termEnd = new Date(Date.parse(termStart) + 365 * 24 * HOUR_MS).toISOString();
/**
 * Workloads start at the top of the previous hour, so metering closes that hour (and billing rates it) soon.
 * SEED_HOURS_AGO moves them further back: allocation decides in time order (a command stamped before its latest
 * decision is refused), so a caller that places work of its own in an earlier hour seeds further back first.
 */
const SEED_HOURS_AGO = Number(process.env.SEED_HOURS_AGO ?? 1);
if (!Number.isInteger(SEED_HOURS_AGO) || SEED_HOURS_AGO < 1)
  throw new Error(`SEED_HOURS_AGO must be a whole number of hours >= 1 (got ${process.env.SEED_HOURS_AGO})`);
const workloadsStart = new Date(Math.floor(now / HOUR_MS) * HOUR_MS - SEED_HOURS_AGO * HOUR_MS).toISOString();

const ratePlan = {
  ratePlanId: 'demo-standard',
  version: 1,
  effectiveFrom: termStart,
  currency: { code: 'USD', minorUnitExponent: 2 },
  classes: [
    {
      gpuClass: 'H100',
      pricePerGpuHourMicroMinor: '250000000',
      overagePricePerGpuHourMicroMinor: '300000000',
      committedMonthlyFeePerGpuMinor: '100000',
    },
    {
      gpuClass: 'H200',
      pricePerGpuHourMicroMinor: '300000000',
      overagePricePerGpuHourMicroMinor: '360000000',
      committedMonthlyFeePerGpuMinor: '150000',
    },
    {
      gpuClass: 'GB200',
      pricePerGpuHourMicroMinor: '600000000',
      overagePricePerGpuHourMicroMinor: '720000000',
      committedMonthlyFeePerGpuMinor: '300000',
    },
  ],
  energyPricePerKwhMicroMinor: '12000000',
  slaCreditTiers: [
    { availabilityBelowBasisPoints: 9990, creditBasisPoints: 1000 },
    { availabilityBelowBasisPoints: 9900, creditBasisPoints: 2500 },
    { availabilityBelowBasisPoints: 9500, creditBasisPoints: 5000 },
  ],
  rounding: 'half-even-per-line',
};

const leases = [
  {
    leaseId: 'lease-acme-colossus',
    tenantId: 'acme',
    term: { start: termStart, end: termEnd },
    committedGpus: { H100: hallGpus('H100'), GB200: hallGpus('GB200') },
    exclusivity: 'exclusive',
    scope: { hallIds: [firstHallOf('H100'), firstHallOf('GB200')], rackIds: [] },
    ratePlanId: ratePlan.ratePlanId,
    author: 'seed-demo',
    at: termStart,
  },
  {
    leaseId: 'lease-globex-shared',
    tenantId: 'globex',
    term: { start: termStart, end: termEnd },
    committedGpus: { H200: 128 },
    exclusivity: 'shared',
    scope: { hallIds: [], rackIds: [] },
    ratePlanId: ratePlan.ratePlanId,
    author: 'seed-demo',
    at: termStart,
  },
];

const quotas: { tenantId: string; gpuClass: GpuClass; workloadClass: string; nominal: number }[] = [
  { tenantId: 'acme', gpuClass: 'GB200', workloadClass: 'inference', nominal: 72 },
  { tenantId: 'acme', gpuClass: 'H100', workloadClass: 'training', nominal: 128 },
  { tenantId: 'acme', gpuClass: 'GB200', workloadClass: 'agentic', nominal: 16 },
  { tenantId: 'globex', gpuClass: 'H200', workloadClass: 'training', nominal: 64 },
];
const DOUBLING = {
  tenantId: 'acme',
  gpuClass: 'GB200',
  workloadClass: 'inference',
  reason: 'Claude Code limits x2',
};

const workloads = [
  {
    workloadId: 'demo-acme-infer-1',
    tenantId: 'acme',
    workloadClass: 'inference',
    gpuCount: 72,
    gang: true,
    topology: 'same-nvlink-domain',
    priority: 50,
  },
  {
    workloadId: 'demo-acme-infer-2',
    tenantId: 'acme',
    workloadClass: 'inference',
    gpuCount: 36,
    gang: true,
    topology: 'same-nvlink-domain',
    priority: 50,
  },
  {
    workloadId: 'demo-acme-train-1',
    tenantId: 'acme',
    workloadClass: 'training',
    gpuCount: 64,
    gang: true,
    topology: 'any',
    priority: 20,
  },
  {
    workloadId: 'demo-acme-train-2',
    tenantId: 'acme',
    workloadClass: 'training',
    gpuCount: 32,
    gang: true,
    topology: 'any',
    priority: 20,
  },
  {
    workloadId: 'demo-acme-agent-1',
    tenantId: 'acme',
    workloadClass: 'agentic',
    gpuCount: 8,
    gang: false,
    topology: 'any',
    priority: 30,
  },
  {
    workloadId: 'demo-globex-train-1',
    tenantId: 'globex',
    workloadClass: 'training',
    gpuCount: 32,
    gang: true,
    topology: 'any',
    priority: 10,
  },
];

/** Samples per placed GPU: every 10 s for the first 5 minutes of its placement. */
const SAMPLES_PER_GPU = 30;
const SAMPLE_POWER_W: Record<string, number> = { H100: 690, H200: 700, GB200: 1_150 };

interface Placement {
  workloadId: string;
  gpuClass: string;
  gpuIds: string[];
  nodeIds: string[];
  placedAt: string;
}

async function seedFleet(): Promise<void> {
  const expected = fleetGpus();
  const total = Object.values(expected).reduce((a, b) => a + b, 0);
  const reply = await command(
    'inventory',
    '/fleet/import',
    fleetFile(),
    `fleet import (${total} GPUs: ${JSON.stringify(expected)})`,
  );
  const summary = reply.body as { eventsAppended?: number; rejected?: number };
  if (summary.rejected) throw new SeedError(`fleet import rejected ${summary.rejected} commands`);
  log(`  events appended: ${summary.eventsAppended ?? '?'}`);
  await waitFor('allocation to learn the fleet from inventory events', async () => {
    const utilization = await query<{ gpuClass: GpuClass; healthy: number }[]>('allocation', '/utilization');
    const healthy = Object.fromEntries(utilization.map((u) => [u.gpuClass, u.healthy]));
    return (Object.keys(expected) as GpuClass[]).every((c) => (healthy[c] ?? 0) >= expected[c] - 8);
  });
  log('  allocation sees the fleet');
}

async function seedQuotas(): Promise<void> {
  const history = await query<{ reason: string; gpuClass?: string; workloadClass?: string }[]>(
    'allocation',
    `/quotas/${DOUBLING.tenantId}/history`,
  );
  const alreadyDoubled = history.some((h) => h.reason === DOUBLING.reason);
  for (const quota of quotas) {
    if (
      alreadyDoubled &&
      quota.tenantId === DOUBLING.tenantId &&
      quota.gpuClass === DOUBLING.gpuClass &&
      quota.workloadClass === DOUBLING.workloadClass
    ) {
      log(`quota ${quota.tenantId}/${quota.gpuClass}/${quota.workloadClass}: already there (doubled)`);
      continue;
    }
    await command(
      'allocation',
      `/quotas/${quota.tenantId}/${quota.gpuClass}/${quota.workloadClass}`,
      {
        change: { kind: 'set', nominal: quota.nominal, borrowLimit: 0 },
        reason: 'demo: initial quota',
        author: 'seed-demo',
      },
      `quota ${quota.tenantId}/${quota.gpuClass}/${quota.workloadClass} = ${quota.nominal}`,
    );
  }
  if (!alreadyDoubled) {
    const reply = await command(
      'allocation',
      `/quotas/${DOUBLING.tenantId}/${DOUBLING.gpuClass}/${DOUBLING.workloadClass}`,
      { change: { kind: 'multiply', factor: 2 }, reason: DOUBLING.reason, author: 'seed-demo' },
      `quota ${DOUBLING.tenantId}/${DOUBLING.gpuClass}/${DOUBLING.workloadClass} x2`,
    );
    log(`  now ${(reply.body as { nominal?: number }).nominal} GPUs`);
  } else {
    log(`quota ${DOUBLING.tenantId}/${DOUBLING.gpuClass}/${DOUBLING.workloadClass} x2: already there`);
  }
}

async function seedWorkloads(): Promise<void> {
  for (const workload of workloads) {
    const reply = await command(
      'allocation',
      '/workloads',
      { ...workload, requestedAt: workloadsStart },
      `workload ${workload.workloadId} (${workload.workloadClass}, ${workload.gpuCount} GPUs)`,
    );
    const outcome = reply.body as { outcome?: string; gpuClass?: string; reason?: string };
    if (reply.status === 201)
      log(
        `  ${outcome.outcome}${outcome.gpuClass ? ` on ${outcome.gpuClass}` : ''}${outcome.reason ? ` (${outcome.reason})` : ''}`,
      );
  }
}

async function seedTelemetry(): Promise<void> {
  const placements = (await query<Placement[]>('allocation', '/placements')).filter((p) =>
    p.workloadId.startsWith('demo-'),
  );
  const samples = placements.flatMap((placement) => {
    const startMs = Date.parse(placement.placedAt);
    return placement.gpuIds.flatMap((gpuId, g) =>
      Array.from({ length: SAMPLES_PER_GPU }, (_, k) => {
        const sampledAt = new Date(startMs + (k + 1) * 10_000).toISOString();
        return {
          sampleId: `demo:${gpuId}:${sampledAt}`,
          gpuId,
          nodeId: gpuId.replace(/-g\d+$/, ''),
          sampledAt,
          utilization: Math.round((0.55 + 0.4 * Math.abs(Math.sin(g + k))) * 1000) / 1000,
          powerW: SAMPLE_POWER_W[placement.gpuClass] ?? 700,
        };
      }),
    );
  });
  if (samples.length === 0) {
    log('telemetry: no placed demo workloads, nothing to send');
    return;
  }
  const totals = { accepted: 0, duplicates: 0, unattributed: 0, rejected: 0 };
  // ~170 bytes a sample: 400 keep a request under the 100 kB JSON body limit the services' HTTP layer applies.
  const BATCH = 400;
  for (let i = 0; i < samples.length; i += BATCH) {
    const reply = await call('metering', 'POST', '/metering/samples', {
      samples: samples.slice(i, i + BATCH),
    });
    if (reply.status !== 200)
      throw new SeedError(`telemetry batch: metering answered ${reply.status} ${errorOf(reply)}`);
    const result = reply.body as {
      accepted: number;
      duplicates: number;
      unattributed: number;
      rejected: unknown[];
    };
    totals.accepted += result.accepted;
    totals.duplicates += result.duplicates;
    totals.unattributed += result.unattributed;
    totals.rejected += result.rejected.length;
  }
  log(
    `telemetry: ${samples.length} samples for ${placements.length} placements -> ${JSON.stringify(totals)}`,
  );
}

async function main(): Promise<void> {
  log(`services: ${JSON.stringify(urls)}`);
  await seedFleet();
  await command(
    'billing',
    '/rate-plans',
    { plan: ratePlan, publishedAt: termStart },
    `rate plan ${ratePlan.ratePlanId} v${ratePlan.version}`,
  );
  for (const lease of leases) {
    await command(
      'allocation',
      '/leases',
      lease,
      `${lease.exclusivity} lease ${lease.leaseId} for ${lease.tenantId} (${JSON.stringify(lease.committedGpus)})`,
    );
    const [current] = (
      await query<{ status?: string }[]>('allocation', `/leases?tenantId=${lease.tenantId}`)
    ).filter((l) => (l as { leaseId?: string }).leaseId === lease.leaseId);
    if (current?.status === 'active') log(`activate ${lease.leaseId}: already active`);
    else
      await command(
        'allocation',
        `/leases/${lease.leaseId}/activate`,
        { author: 'seed-demo', at: termStart },
        `activate ${lease.leaseId}`,
      );
  }
  await seedQuotas();
  await seedWorkloads();
  await seedTelemetry();
  log('done');
}

main().catch((error: Error) => {
  process.stderr.write(
    `[seed] failed: ${error instanceof SeedError ? error.message : (error.stack ?? error.message)}\n`,
  );
  process.exitCode = 1;
});
