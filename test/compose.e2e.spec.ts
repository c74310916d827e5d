import { randomBytes } from 'node:crypto';
import { waitUntil } from '@fleetledger/testing';
import { ComposeProject, composeTools, freePorts, REPO } from './e2e/compose';
import { flowFleet } from './e2e/fleet';

/**
 * docker-compose.yml, run: the product image (the repository's Dockerfile), Kafka, PostgreSQL, the four
 * migrations, the four services and the demo seed, on free host ports; then one business flow across the four
 * services through their HTTP APIs only; then `down -v`.
 *
 * Needs a container engine with a Docker API and a compose implementation. Without them the suite is skipped
 * with the reason, unless FLEETLEDGER_REQUIRE_CONTAINERS=1 (CI with podman set up), where it fails.
 * FLEETLEDGER_IMAGE names an already built product image; otherwise the test builds it (NODE_IMAGE picks the
 * Dockerfile's base).
 */
const tools = composeTools();
const unavailable = typeof tools === 'string' ? tools : undefined;
if (unavailable && !process.env.FLEETLEDGER_REQUIRE_CONTAINERS)
  process.stderr.write(`[compose e2e] skipped: ${unavailable}\n`);

const SERVICES = ['inventory', 'allocation', 'metering', 'billing'] as const;
type Service = (typeof SERVICES)[number];

const describeIfEngine =
  unavailable && !process.env.FLEETLEDGER_REQUIRE_CONTAINERS ? describe.skip : describe;

describeIfEngine('docker-compose.yml platform (product image, compose, one business flow)', () => {
  const run = process.env.FLEETLEDGER_RUN_ID ?? randomBytes(4).toString('hex');
  const name = `fl-compose-${run}`.toLowerCase().replace(/[^a-z0-9-]/g, '');
  let project: ComposeProject;
  const urls = {} as Record<Service, string>;
  /** A caller with the operator, finance and telemetry-agent roles, minted by the platform's own issuer. */
  let token: string | undefined;

  /**
   * The one way this test talks to a service. Every call goes through here, so authentication (a bearer token
   * per caller) is added in one place.
   */
  async function call(
    service: Service,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: any }> {
    const response = await fetch(`${urls[service]}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: response.status, body: parsed };
  }

  async function expectStatus(
    status: number,
    reply: Promise<{ status: number; body: any }>,
  ): Promise<{ status: number; body: any }> {
    const answered = await reply;
    if (answered.status !== status)
      throw new Error(`expected ${status}, got ${answered.status}: ${JSON.stringify(answered.body)}`);
    return answered;
  }

  beforeAll(async () => {
    if (typeof tools === 'string') throw new Error(`the compose platform cannot run here: ${tools}`);
    const image = process.env.FLEETLEDGER_IMAGE ?? 'fleetledger:local';
    const ports = await freePorts(6);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DOCKER_HOST: process.env.DOCKER_HOST,
      FLEETLEDGER_IMAGE: image,
      KAFKA_IMAGE: process.env.KAFKA_IMAGE ?? 'apache/kafka:4.1.1',
      POSTGRES_IMAGE: process.env.POSTGRES_IMAGE ?? 'postgres:16',
      INVENTORY_HOST_PORT: String(ports[0]),
      ALLOCATION_HOST_PORT: String(ports[1]),
      METERING_HOST_PORT: String(ports[2]),
      BILLING_HOST_PORT: String(ports[3]),
      KAFKA_HOST_PORT: String(ports[4]),
      POSTGRES_HOST_PORT: String(ports[5]),
      // The flow below places work two hours back; allocation decides in time order, so the seed goes first, earlier.
      SEED_HOURS_AGO: '3',
    };
    SERVICES.forEach((service, i) => (urls[service] = `http://127.0.0.1:${ports[i]}`));
    project = new ComposeProject(tools, name, env);

    if (!process.env.FLEETLEDGER_IMAGE) {
      const started = Date.now();
      const args = ['build', '-t', image, ...(tools.engine === 'podman' ? ['--format', 'docker'] : [])];
      if (process.env.NODE_IMAGE) args.push('--build-arg', `NODE_IMAGE=${process.env.NODE_IMAGE}`);
      await project.engine([...args, REPO]).catch((error: Error) => {
        throw new Error(`building the product image failed: ${error.message}`);
      });
      process.stderr.write(
        `[compose e2e] product image built in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
      );
    }

    const started = Date.now();
    project.startHealthChecks();
    // `up -d` returns once every container started in order: migrations after healthy infrastructure,
    // services after their migration, the seed after four healthy services.
    await project.compose(['--profile', 'demo', 'up', '-d', '--no-build']);
    await waitUntil(
      async () => (await project.exitCode('demo-seed')) !== undefined,
      300_000,
      'the demo seed to finish',
    );
    process.stderr.write(
      `[compose e2e] platform up and seeded in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
    );
    // As a user of the compose platform mints a token (docs/deploy.md): the issuer's key never leaves its volume.
    const minted = await project.compose([
      'run',
      '--rm',
      '-T',
      'auth-init',
      'node',
      'dist/scripts/dev-issuer.js',
      'mint',
      '--role',
      'operator',
      'finance',
      'telemetry-agent',
      '--subject',
      'compose-e2e',
    ]);
    // compose may print its own progress lines around the command's output: take the JWT itself.
    token = /eyJ[\w-]+\.[\w-]+\.[\w-]+/.exec(minted)?.[0];
    if (!token) throw new Error(`no token minted: ${minted}`);
  }, 900_000);

  afterAll(async () => {
    project?.stopHealthChecks();
    if (!project) return;
    if (process.env.KEEP_COMPOSE) return;
    await project
      .compose(['--profile', 'demo', 'down', '-v', '--remove-orphans', '-t', '5'])
      .catch((error: Error) => process.stderr.write(`[compose e2e] down failed: ${error.message}\n`));
  }, 120_000);

  it('ran every migration and the demo seed to completion (exit 0)', async () => {
    const codes = Object.fromEntries(
      await Promise.all(
        [...SERVICES.map((s) => `${s}-migrate`), 'demo-seed'].map(async (s) => [
          s,
          await project.exitCode(s),
        ]),
      ),
    );
    expect(codes).toEqual({
      'inventory-migrate': 0,
      'allocation-migrate': 0,
      'metering-migrate': 0,
      'billing-migrate': 0,
      'demo-seed': 0,
    });
    const seedLog = await project.compose(['logs', '--no-color', 'demo-seed']);
    expect(seedLog).toContain('[seed]');
  });

  it('refuses callers without a token of the platform issuer (401), on every service', async () => {
    const saved = token;
    token = undefined;
    try {
      for (const [service, path] of [
        ['inventory', '/capacity'],
        ['allocation', '/leases'],
        ['metering', '/metering/samples/pending'],
        ['billing', '/invoices'],
      ] as const)
        expect((await call(service, 'GET', path)).status).toBe(401);
    } finally {
      token = saved;
    }
  });

  it.each(SERVICES)(
    '%s is ready: PostgreSQL and Kafka answer from inside the compose network',
    async (service) => {
      const ready = await expectStatus(200, call(service, 'GET', '/health/ready'));
      expect(ready.body.details).toMatchObject({ postgres: { status: 'up' }, kafka: { status: 'up' } });
    },
  );

  it('serves the seeded demo: the fleet in inventory, the leases in allocation', async () => {
    const capacity = await expectStatus(200, call('inventory', 'GET', '/capacity'));
    expect(capacity.body.map((c: { gpuClass: string }) => c.gpuClass).sort()).toEqual([
      'GB200',
      'H100',
      'H200',
    ]);
    const leases = await expectStatus(200, call('allocation', 'GET', '/leases'));
    expect(leases.body.map((l: { leaseId: string }) => l.leaseId)).toContain('lease-acme-colossus');
  });

  /**
   * fleet (inventory) -> lease + placements (allocation, which learns the fleet from inventory's events) ->
   * samples (metering, which learns the placements from allocation's events) -> usage records -> the invoice
   * (billing, which learns leases and usage from events). One hour of 16 H100 + 8 GB200, an hour that is
   * already due, so the window closes now.
   */
  it('meters an hour of two placements and bills it: 16 H100-h + 8 GB200-h + energy = 88.01 USD', async () => {
    const began = Date.now();
    const step = (what: string) =>
      process.stderr.write(
        `[compose e2e] flow: ${what} after ${((Date.now() - began) / 1000).toFixed(1)} s\n`,
      );
    const tenant = `compose-${run}`.toLowerCase().replace(/[^a-z0-9-]/g, '');
    const leaseId = `lease-${tenant}`;
    const hour = 3_600_000;
    const start = Math.floor(Date.now() / hour) * hour - 2 * hour; // the window [start, start+1h) is due
    const iso = (ms: number) => new Date(ms).toISOString();
    const termStart = iso(start - 30 * 24 * hour);
    const asTenant = { 'x-tenant-id': tenant };

    const imported = await expectStatus(200, call('inventory', 'POST', '/fleet/import', flowFleet));
    expect(imported.body).toMatchObject({ imported: true, rejected: 0, gpusInFile: 168 });

    await expectStatus(
      201,
      call('billing', 'POST', '/rate-plans', {
        plan: {
          ratePlanId: `rp-${tenant}`,
          version: 1,
          effectiveFrom: termStart,
          currency: { code: 'USD', minorUnitExponent: 2 },
          classes: [
            ['H100', '250000000'],
            ['H200', '300000000'],
            ['GB200', '600000000'],
          ].map(([gpuClass, price]) => ({
            gpuClass,
            pricePerGpuHourMicroMinor: price,
            overagePricePerGpuHourMicroMinor: price,
            committedMonthlyFeePerGpuMinor: '0',
          })),
          energyPricePerKwhMicroMinor: '12000000',
          slaCreditTiers: [{ availabilityBelowBasisPoints: 9990, creditBasisPoints: 1000 }],
          rounding: 'half-even-per-line',
        },
        publishedAt: termStart,
      }),
    );
    await expectStatus(
      201,
      call('allocation', 'POST', '/leases', {
        leaseId,
        tenantId: tenant,
        term: { start: termStart, end: iso(start + 365 * 24 * hour) },
        committedGpus: { H100: 32, GB200: 36 },
        exclusivity: 'shared',
        ratePlanId: `rp-${tenant}`,
        author: 'compose-e2e',
        at: termStart,
      }),
    );
    await expectStatus(
      201,
      call('allocation', 'POST', `/leases/${leaseId}/activate`, { author: 'compose-e2e', at: termStart }),
    );
    for (const [gpuClass, workloadClass, nominal] of [
      ['H100', 'training', 16],
      ['GB200', 'inference', 8],
    ] as const)
      await expectStatus(
        201,
        call('allocation', 'POST', `/quotas/${tenant}/${gpuClass}/${workloadClass}`, {
          change: { kind: 'set', nominal, borrowLimit: 0 },
          reason: 'compose e2e',
          author: 'compose-e2e',
          at: termStart,
        }),
      );

    // allocation places only on GPUs it learned from inventory's events: wait until it counts what inventory does
    await waitUntil(
      async () => {
        const held = (await call('inventory', 'GET', '/capacity')).body as {
          gpuClass: string;
          healthy: number;
        }[];
        const known = (await call('allocation', 'GET', '/utilization')).body as {
          gpuClass: string;
          healthy: number;
        }[];
        return held.every((c) => known.find((k) => k.gpuClass === c.gpuClass)?.healthy === c.healthy);
      },
      60_000,
      "allocation to learn the imported fleet from inventory's events",
    );
    step('fleet known to allocation');
    const place = (workloadId: string, workloadClass: string, gpuCount: number, extra: object = {}) =>
      expectStatus(
        201,
        call('allocation', 'POST', '/workloads', {
          workloadId,
          tenantId: tenant,
          workloadClass,
          gpuCount,
          gang: true,
          priority: 10,
          requestedAt: iso(start),
          ...extra,
        }),
      );
    const training = (await place(`${tenant}-train`, 'training', 16)).body;
    const inference = (await place(`${tenant}-infer`, 'inference', 8, { topology: 'same-nvlink-domain' }))
      .body;
    expect([
      training.outcome,
      training.gpuClass,
      training.gpuIds.length,
      inference.outcome,
      inference.gpuClass,
      inference.gpuIds.length,
    ]).toEqual(['placed', 'H100', 16, 'placed', 'GB200', 8]);

    // metering attributes samples only to placements it learned from allocation's events
    const samples = [
      ...training.gpuIds.map((gpuId: string) => [gpuId, 720] as const),
      ...inference.gpuIds.map((gpuId: string) => [gpuId, 1080] as const),
    ].flatMap(([gpuId, powerW]) =>
      [10, 40].map((minute) => ({
        sampleId: `${tenant}:${gpuId}:${minute}`,
        gpuId,
        nodeId: gpuId.replace(/-g\d+$/, ''),
        sampledAt: iso(start + minute * 60_000),
        utilization: 0.5,
        powerW,
      })),
    );
    await waitUntil(
      async () => {
        const ready = await call('metering', 'GET', '/health/ready');
        return ready.body?.details?.['consumer-lag']?.lag?.['metering-placements'] === 0;
      },
      60_000,
      'metering to catch up with allocation events',
    );
    step('metering caught up with the placements');
    const accepted = await expectStatus(200, call('metering', 'POST', '/metering/samples', { samples }));
    expect(accepted.body).toMatchObject({ accepted: 48, duplicates: 0, unattributed: 0, rejected: [] });

    for (const workloadId of [`${tenant}-train`, `${tenant}-infer`])
      await expectStatus(
        200,
        call('allocation', 'POST', `/workloads/${workloadId}/release`, { requestedAt: iso(start + hour) }),
      );
    // Metering closes due windows on its own timer too; closing here saves the wait. A close that ran before
    // metering learned the releases recorded the following hours as allocated: the next close corrects them
    // (a window that changed after it was published gets a correction), so close until the usage is one hour.
    let usage: any;
    await waitUntil(
      async () => {
        await call('metering', 'POST', '/metering/windows/close', { asOf: iso(Date.now()) });
        usage = (await call('metering', 'GET', `/metering/usage?tenantId=${tenant}`)).body;
        return usage?.totals?.gpuSecondsAllocated === `${24 * 3600}.000` && usage?.totals?.sampleCount === 48;
      },
      60_000,
      'metering to record one hour of 24 GPUs (and correct any later hour it recorded before the releases)',
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last usage: ${JSON.stringify(usage?.totals)}`);
    });
    step('usage recorded');

    // By hand: H100 16 GPU-h x 2.50 = 40.00; GB200 8 GPU-h x 6.00 = 48.00;
    // energy (16 x 2 x 2 Wh + 8 x 2 x 3 Wh) = 112 Wh = 0.112 kWh x 0.12 = 0.01344 -> 0.01.
    const invoiceId = `${tenant}.${iso(start).slice(0, 7)}`;
    let invoice: any;
    await waitUntil(
      async () => {
        const reply = await call('billing', 'GET', `/invoices/${invoiceId}`, undefined, asTenant);
        invoice = reply.body;
        return reply.status === 200 && invoice.totalMinor === '8801';
      },
      120_000,
      'billing to invoice the metered hour',
    ).catch((error: Error) => {
      throw new Error(`${error.message}; last invoice: ${JSON.stringify(invoice)}`);
    });
    step('invoiced');
    expect(invoice).toMatchObject({ status: 'draft', currency: { code: 'USD' }, totalMinor: '8801' });
  });
});
