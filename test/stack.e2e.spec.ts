import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { Client } from 'pg';
import { httpAs, waitUntil } from '@fleetledger/testing';

const repo = path.resolve(__dirname, '..');
const services = ['inventory', 'allocation', 'metering', 'billing'];
const url = (i: number) => `http://127.0.0.1:${3001 + i}`;

/** Every live descendant of a process (Linux /proc): what must be gone once the stack stopped. */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited while we looked */
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parentOf)
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `npm run stack` as a user (or a process manager) runs it: through npm, stopped by signalling npm. */
class Stack {
  process!: ChildProcess;
  output = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly database = `fl_stack_${randomBytes(4).toString('hex')}`;

  constructor(private readonly env: Record<string, string>) {}

  async start(): Promise<void> {
    const databaseUrl = new URL(process.env.TEST_ADMIN_DATABASE_URL!);
    databaseUrl.pathname = `/${this.database}`;
    this.process = spawn('npm', ['run', 'stack'], {
      cwd: repo,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl.toString(),
        KAFKA_TOPIC_PREFIX: `stack${randomBytes(3).toString('hex')}.`,
        LOG_LEVEL: 'warn',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.process.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.process.on('exit', (code, signal) => (this.exit = { code, signal }));
    await waitUntil(
      () => this.output.includes('[stack] running') || this.exit !== undefined,
      240_000,
      'the stack to start',
    );
    if (!this.output.includes('[stack] running')) throw new Error(`stack did not start:\n${this.output}`);
  }

  /** Signals npm only, and returns what was running under it before. */
  async stopWith(signal: NodeJS.Signals): Promise<number[]> {
    const chain = descendants(this.process.pid!);
    this.process.kill(signal);
    await waitUntil(() => this.exit !== undefined, 60_000, `npm to exit after ${signal}`);
    await waitUntil(() => chain.every((pid) => !alive(pid)), 30_000, 'every process under npm to exit');
    return chain;
  }

  async cleanUp(): Promise<void> {
    if (this.exit === undefined && this.process) {
      for (const pid of descendants(this.process.pid!)) process.kill(pid, 'SIGKILL');
      this.process.kill('SIGKILL');
    }
    const admin = new Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`);
    await admin.end();
  }
}

describe('npm run stack (the platform on local infrastructure)', () => {
  const stack = new Stack({ STACK_REBUILD: '1' });

  beforeAll(() => stack.start(), 300_000);
  afterAll(() => stack.cleanUp());

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
    expect(stack.output).toContain('[seed]');
    expect(stack.output).toContain('npm run -s token -- --role operator');
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
    const admin = new Client({ connectionString: process.env.TEST_ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query(
        `SELECT DISTINCT application_name AS app, usename AS role FROM pg_stat_activity
          WHERE datname = $1 AND application_name LIKE 'fleetledger-%' ORDER BY 1`,
        [stack.database],
      );
      expect(rows).toEqual(
        [...services].sort().map((name) => ({ app: `fleetledger-${name}`, role: `fleetledger_${name}` })),
      );
    } finally {
      await admin.end();
    }
  });

  it('SIGTERM to the npm process stops the script and every service under it', async () => {
    const chain = await stack.stopWith('SIGTERM');
    // npm, the stack script and the four services (plus whatever those ran)
    expect(chain.length).toBeGreaterThanOrEqual(1 + services.length);
    expect(stack.output).toContain('[stack] stopping the services');
    expect(stack.output).not.toMatch(/"level":"fatal"|Unhandled/);
    for (let i = 0; i < services.length; i++) {
      await expect(request(url(i)).get('/health/live')).rejects.toThrow();
    }
  });
});

describe('STACK_SEED=none npm run stack', () => {
  const stack = new Stack({ STACK_SEED: 'none' });

  beforeAll(() => stack.start(), 300_000);
  afterAll(() => stack.cleanUp());

  it('starts an empty platform: no fleet, no leases', async () => {
    expect(stack.output).toContain('STACK_SEED=none');
    expect(stack.output).not.toContain('[seed]');
    const operator = execFileSync('npm', ['run', '-s', 'token', '--', '--role', 'operator'], {
      cwd: repo,
      encoding: 'utf8',
    }).trim();
    const capacity = await httpAs(url(0), operator).get('/capacity').expect(200);
    expect(capacity.body).toEqual([]);
    const leases = await httpAs(url(1), operator).get('/leases').expect(200);
    expect(leases.body).toEqual([]);
  });

  it('SIGINT to the npm process (Ctrl-C, or a process manager) stops everything', async () => {
    await stack.stopWith('SIGINT');
    for (let i = 0; i < services.length; i++) {
      await expect(request(url(i)).get('/health/live')).rejects.toThrow();
    }
  });
});
