import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import request from 'supertest';
import { Client } from 'pg';
import { httpAs, waitUntil } from '@fleetledger/testing';

const repo = path.resolve(__dirname, '..');
const services = ['inventory', 'allocation', 'metering', 'billing'];
const url = (i: number) => `http://127.0.0.1:${3001 + i}`;

/** `npm run stack` as a user runs it: start, answer, stop cleanly on SIGTERM. */
describe('npm run stack (the platform on local infrastructure)', () => {
  let stack: ChildProcess;
  let output = '';
  let exitCode: number | null | undefined;
  const database = `fl_stack_${randomBytes(4).toString('hex')}`;
  const adminUrl = process.env.TEST_ADMIN_DATABASE_URL!;

  beforeAll(async () => {
    const databaseUrl = new URL(adminUrl);
    databaseUrl.pathname = `/${database}`;
    stack = spawn('bash', ['scripts/stack.sh'], {
      cwd: repo,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl.toString(),
        KAFKA_TOPIC_PREFIX: `stack${randomBytes(3).toString('hex')}.`,
        LOG_LEVEL: 'warn',
        STACK_REBUILD: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    stack.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    stack.on('exit', (code) => (exitCode = code));
    await waitUntil(
      () => output.includes('[stack] running') || exitCode !== undefined,
      240_000,
      'the stack to start',
    );
    if (!output.includes('[stack] running')) throw new Error(`stack did not start:\n${output}`);
  }, 300_000);

  afterAll(async () => {
    if (exitCode === undefined) stack.kill('SIGKILL');
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  });

  it.each(services.map((name, i) => [name, i] as const))(
    '%s answers readiness, metrics and its OpenAPI document',
    async (_name, i) => {
      const ready = await request(url(i)).get('/health/ready').expect(200);
      expect(ready.body.details).toMatchObject({ postgres: { status: 'up' }, kafka: { status: 'up' } });
      const metrics = await request(url(i)).get('/metrics').expect(200);
      expect(metrics.text).toContain('fleetledger_events_published_total');
      await request(url(i)).get('/docs/openapi.json').expect(200);
    },
  );

  it('serves the seeded demo through one business endpoint per service, to callers with a token of the local issuer', async () => {
    expect(output).toContain('[seed]');
    expect(output).toContain('npm run -s token -- --role operator');
    // The token a user mints as the stack prints it.
    const mint = (...args: string[]) =>
      execFileSync('npm', ['run', '-s', 'token', '--', ...args], { cwd: repo, encoding: 'utf8' }).trim();
    const operator = mint('--role', 'operator', 'finance');
    const tenant = mint('--role', 'tenant', '--tenant', 'acme');
    const as = (token: string | undefined, i: number) => httpAs(url(i), token);
    await as(undefined, 1).get('/leases').expect(401);
    const capacity = await as(operator, 0).get('/capacity').expect(200);
    expect(JSON.stringify(capacity.body)).toMatch(/GB200/);
    const leases = await as(tenant, 1).get('/leases').expect(200);
    expect(leases.body.map((l: { leaseId: string }) => l.leaseId)).toContain('lease-acme-colossus');
    expect(leases.body.every((l: { tenantId: string }) => l.tenantId === 'acme')).toBe(true);
    const pending = await as(operator, 2).get('/metering/samples/pending').expect(200);
    expect(pending.body).toBeDefined();
    await as(tenant, 3).get('/invoices').expect(200);
    await as(operator, 3).get('/invoices').set('x-tenant-id', 'acme').expect(200);
    await as(operator, 3).get('/invoices').expect(400);
    await as(tenant, 3).get('/invoices').set('x-tenant-id', 'globex').expect(403);
  });

  it('connects each service to PostgreSQL as its own role, never as the administrator', async () => {
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      const { rows } = await admin.query(
        `SELECT DISTINCT application_name AS app, usename AS role FROM pg_stat_activity
          WHERE datname = $1 AND application_name LIKE 'fleetledger-%' ORDER BY 1`,
        [database],
      );
      expect(rows).toEqual(
        [...services].sort().map((name) => ({ app: `fleetledger-${name}`, role: `fleetledger_${name}` })),
      );
    } finally {
      await admin.end();
    }
  });

  it('stops every service cleanly on SIGTERM', async () => {
    stack.kill('SIGTERM');
    await waitUntil(() => exitCode !== undefined, 60_000, 'the stack to stop');
    expect(exitCode).toBe(143);
    expect(output).not.toMatch(/"level":"fatal"|Unhandled|ERR!/);
    for (let i = 0; i < services.length; i++) {
      await expect(request(url(i)).get('/health/live')).rejects.toThrow();
    }
  });
});
