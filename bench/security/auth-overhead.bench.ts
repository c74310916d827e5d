/**
 * What authentication costs the hot HTTP paths: placements through allocation's API (submit + release,
 * each a persisted decision) and telemetry batches through metering's API, with every request carrying
 * a bearer JWT that the global guard verifies (signature cached per token), the rate limiter counts and
 * the request context records on the events.
 *
 *   npm run bench:auth                          this checkout only
 *   npm run bench:auth -- --vs <git-ref>        side by side with <git-ref> (e.g. the commit before
 *                                               authentication), interleaved, 3 rounds, medians
 *   options: --placements N (default 400), --batches N (default 60, 1,000 samples each),
 *            --vs-brokers host:port (the other checkout's broker, e.g. a PLAINTEXT one for code before SCRAM)
 *
 * The other checkout runs this same file (copied into a temporary worktree of <git-ref>); where that code
 * has no authentication, requests go without a token. Uses KAFKA_BROKERS and DATABASE_URL (defaults: the
 * local broker and server, `npm run infra:up`); each run makes and drops its own database and topics.
 */
import 'reflect-metadata';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const PLACEMENTS = arg('--placements', 400);
const BATCHES = arg('--batches', 60);
const repo = path.resolve(__dirname, '../..');

interface Figures {
  authenticated: boolean;
  placementsPerS: number;
  placementP50Ms: number;
  placementP99Ms: number;
  samplesPerS: number;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

/** One measurement in this checkout: prints one JSON line of figures. */
async function single(): Promise<void> {
  process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
  process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  process.env.TEST_ADMIN_DATABASE_URL ??= process.env.DATABASE_URL;
  process.env.LOG_LEVEL = 'warn';
  process.env.TEST_LOG_LEVEL = 'warn';
  const setupFile = path.join(repo, 'libs/testing/src/test-auth-setup.ts');
  const authenticated = existsSync(setupFile);
  let token: string | undefined;
  if (authenticated) {
    const setup = (await import(setupFile)) as { prepareTestAuth(): Promise<void> };
    await setup.prepareTestAuth();
    token = process.env.TEST_AUTH_CALLER_TOKEN;
  }
  const call = (url: string, method: 'get' | 'post', route: string) => {
    const test = request(url)[method](route);
    return token ? test.set('authorization', `Bearer ${token}`) : test;
  };
  const { startFlowServices } = await import(path.join(repo, 'test/e2e/flow-services'));
  const { flowFleet, FLEET_GPUS } = await import(path.join(repo, 'test/e2e/fleet'));
  const services = await startFlowServices();
  try {
    await call(services.inventory.url, 'post', '/fleet/import').send(flowFleet).expect(200);
    const total = Object.values(FLEET_GPUS as Record<string, number>).reduce((a, b) => a + b, 0);
    for (let i = 0; i < 600; i++) {
      const utilization = (await call(services.allocation.url, 'get', '/utilization')).body as {
        healthy: number;
      }[];
      if (utilization.reduce((n, u) => n + u.healthy, 0) === total) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const alloc = services.allocation.url;
    await call(alloc, 'post', '/leases')
      .send({
        leaseId: 'lease-bench',
        tenantId: 'bench',
        term: { start: '2026-01-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' },
        committedGpus: { H100: 64 },
        exclusivity: 'shared',
        ratePlanId: 'rp-bench',
        author: 'bench',
        at: '2025-12-01T00:00:00.000Z',
      })
      .expect(201);
    await call(alloc, 'post', '/leases/lease-bench/activate')
      .send({ author: 'bench', at: '2025-12-01T00:00:00.000Z' })
      .expect(201);
    await call(alloc, 'post', '/quotas/bench/H100/training')
      .send({
        change: { kind: 'set', nominal: 64, borrowLimit: 0 },
        reason: 'bench',
        author: 'bench',
        at: '2026-01-01T00:00:00.000Z',
      })
      .expect(201);

    // Placements: submit (placed) then release, one after the other, as one caller would.
    const latencies: number[] = [];
    let placedGpus: string[] = [];
    const started = performance.now();
    for (let i = 0; i < PLACEMENTS; i++) {
      const at = new Date(Date.parse('2026-03-01T00:00:00Z') + i * 60_000).toISOString();
      const t = performance.now();
      const placed = await call(alloc, 'post', '/workloads')
        .send({
          workloadId: `w-${i}`,
          tenantId: 'bench',
          workloadClass: 'training',
          gpuCount: 8,
          gang: true,
          priority: 10,
          requestedAt: at,
        })
        .expect(201);
      latencies.push(performance.now() - t);
      if (placed.body.outcome !== 'placed') throw new Error(`not placed: ${placed.text}`);
      placedGpus = placed.body.gpuIds;
      await call(alloc, 'post', `/workloads/w-${i}/release`).send({ requestedAt: at }).expect(200);
    }
    const placementSeconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);

    // Telemetry: batches of 1,000 samples (distinct ids) for the GPUs of the last placement.
    const meteringUrl = services.metering.url;
    const batch = (b: number) => ({
      samples: Array.from({ length: 1000 }, (_, k) => ({
        sampleId: `s-${b}-${k}`,
        gpuId: placedGpus[k % placedGpus.length],
        nodeId: placedGpus[k % placedGpus.length].replace(/-g\d+$/, ''),
        sampledAt: new Date(Date.parse('2026-03-02T00:00:00Z') + (b * 1000 + k) * 10).toISOString(),
        utilization: 0.5,
        powerW: 700,
      })),
    });
    const batches = Array.from({ length: BATCHES }, (_, b) => batch(b));
    const ingestStart = performance.now();
    for (const body of batches) await call(meteringUrl, 'post', '/metering/samples').send(body).expect(200);
    const samplesPerS = (BATCHES * 1000) / ((performance.now() - ingestStart) / 1000);

    const figures: Figures = {
      authenticated,
      placementsPerS: (PLACEMENTS * 2) / placementSeconds,
      placementP50Ms: pct(latencies, 0.5),
      placementP99Ms: pct(latencies, 0.99),
      samplesPerS,
    };
    process.stdout.write(`FIGURES ${JSON.stringify(figures)}\n`);
  } finally {
    await services.stop();
  }
}

/** `--vs-brokers host:port`: the other checkout's broker (one without SASL for code from before SCRAM). */
const vsBrokersIndex = process.argv.indexOf('--vs-brokers');
const VS_BROKERS = vsBrokersIndex > 0 ? process.argv[vsBrokersIndex + 1] : undefined;

function runIn(dir: string, other = false): Figures {
  const env: NodeJS.ProcessEnv = { ...process.env, KAFKAJS_LOG_LEVEL: 'nothing' };
  if (other && VS_BROKERS) {
    env.KAFKA_BROKERS = VS_BROKERS;
    for (const name of [
      'KAFKA_CREDENTIALS_FILE',
      'KAFKA_SASL_MECHANISM',
      'KAFKA_SASL_USERNAME',
      'KAFKA_SASL_PASSWORD',
    ])
      delete env[name];
  }
  const result = spawnSync(
    'node',
    [
      '-r',
      '@swc-node/register',
      path.join(dir, 'bench/security/auth-overhead.bench.ts'),
      '--single',
      '--placements',
      String(PLACEMENTS),
      '--batches',
      String(BATCHES),
    ],
    { cwd: dir, encoding: 'utf8', env },
  );
  const line = result.stdout.split('\n').find((l) => l.startsWith('FIGURES '));
  if (!line) throw new Error(`run in ${dir} failed:\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(line.slice('FIGURES '.length)) as Figures;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function compare(ref: string): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'fl-bench-auth-'));
  execFileSync('git', ['-C', repo, 'worktree', 'add', '--detach', dir, ref], { stdio: 'ignore' });
  try {
    symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
    cpSync(__filename, path.join(dir, 'bench/security/auth-overhead.bench.ts'));
    const rounds: { here: Figures; there: Figures }[] = [];
    for (let round = 1; round <= 3; round++) {
      const there = runIn(dir, true);
      const here = runIn(repo);
      rounds.push({ here, there });
      process.stdout.write(
        `round ${round}: ${ref} ${JSON.stringify(there)}\n         this   ${JSON.stringify(here)}\n`,
      );
    }
    const row = (name: string, key: keyof Figures, higherIsBetter: boolean) => {
      const before = median(rounds.map((r) => r.there[key] as number));
      const after = median(rounds.map((r) => r.here[key] as number));
      const cost = higherIsBetter ? (before - after) / before : (after - before) / before;
      process.stdout.write(
        `| ${name.padEnd(30)} | ${before.toFixed(1).padStart(10)} | ${after.toFixed(1).padStart(10)} | ${(cost * 100).toFixed(1).padStart(6)} % |\n`,
      );
    };
    process.stdout.write(
      `\nmedians of 3 rounds, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
    );
    process.stdout.write(
      `| ${'path'.padEnd(30)} | ${ref.slice(0, 10).padStart(10)} | ${'this'.padStart(10)} | cost     |\n`,
    );
    process.stdout.write(`| ${'-'.repeat(30)} | ${'-'.repeat(10)} | ${'-'.repeat(10)} | -------- |\n`);
    row('placements+releases /s (HTTP)', 'placementsPerS', true);
    row('placement p50 ms', 'placementP50Ms', false);
    row('placement p99 ms', 'placementP99Ms', false);
    row('samples /s (HTTP batches)', 'samplesPerS', true);
  } finally {
    execFileSync('git', ['-C', repo, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  if (process.argv.includes('--single')) return single();
  const vs = process.argv.indexOf('--vs');
  if (vs > 0) return compare(process.argv[vs + 1]);
  const figures = runIn(repo);
  process.stdout.write(`${JSON.stringify(figures, null, 2)}\nload average ${loadavg().join(' ')}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  },
);
