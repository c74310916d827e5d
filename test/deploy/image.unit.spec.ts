// The Dockerfile's stages are checked as text (fast, on every machine; test/compose.e2e.spec.ts builds and
// runs the image where an engine is available), and the entrypoint script it copies is run with sh
// against a stand-in `node` to prove how it picks a service.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

interface Stage {
  from: string;
  name?: string;
  lines: string[];
}

function stages(text: string): Stage[] {
  const result: Stage[] = [];
  for (const line of text.split('\n')) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) result.push({ from: from[1], name: from[2], lines: [] });
    else result.at(-1)?.lines.push(line);
  }
  return result;
}

/** The entrypoint script the Dockerfile copies to /usr/local/bin/fleetledger. */
function copiedEntrypoint(text: string): string {
  const match = /^COPY (?:--chmod=0755 )?(\S+) \/usr\/local\/bin\/fleetledger$/m.exec(text);
  if (!match) throw new Error('no COPY of the entrypoint to /usr/local/bin/fleetledger in the Dockerfile');
  return readFileSync(join(root, match[1]), 'utf8');
}

describe('Dockerfile', () => {
  const [build, prodDeps, runtime] = stages(dockerfile);

  it('builds on node:20-bookworm-slim in a build stage, and ships a separate runtime stage', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    // heredocs are not read by every builder (podman 4.3 / buildah 1.28 on Debian 12)
    expect(dockerfile).not.toMatch(/<<['"]?[A-Z]+/);
    expect(stages(dockerfile).map((s) => s.name)).toEqual(['build', 'prod-deps', 'runtime']);
    expect(build.lines.join('\n')).toMatch(/npm ci[^\n]*\n[\s\S]*npm run build/);
    expect(prodDeps.lines.join('\n')).toContain('npm ci --omit=dev');
  });

  it('the runtime stage holds production dependencies and dist/ only, as a non-root user', () => {
    const body = runtime.lines.join('\n');
    expect(body).toContain('COPY --from=prod-deps /app/node_modules ./node_modules');
    expect(body).toContain('COPY --from=build /app/dist ./dist');
    expect(body).not.toMatch(/COPY --from=build \/app\/node_modules/);
    const users = runtime.lines.filter((line) => line.startsWith('USER '));
    expect(users).toEqual(['USER 10001:10001']);
  });

  it('has a HEALTHCHECK and runs tini as PID 1 in front of node', () => {
    expect(runtime.lines.some((line) => line.startsWith('HEALTHCHECK '))).toBe(true);
    expect(dockerfile).toMatch(/\/health\/live/);
    expect(dockerfile).toContain('ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/fleetledger"]');
  });

  it('.dockerignore keeps node_modules, dist, git history and secrets out of the build context', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.env']));
  });
});

describe('image entrypoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetledger-entrypoint-'));
  const script = join(dir, 'fleetledger');
  writeFileSync(script, copiedEntrypoint(dockerfile));
  // a stand-in `node` that prints what it was asked to run
  writeFileSync(join(dir, 'node'), '#!/bin/sh\necho "node $*"\n');
  chmodSync(join(dir, 'node'), 0o755);

  const run = (args: string[], service?: string) => {
    const env: NodeJS.ProcessEnv = { PATH: `${dir}:/usr/bin:/bin` };
    if (service !== undefined) env.SERVICE = service;
    const result = spawnSync('sh', [script, ...args], { env, encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr.trim() };
  };

  it.each([
    {
      case: 'SERVICE=billing, no arguments',
      args: [],
      service: 'billing',
      runs: 'node dist/apps/billing/src/main.js',
    },
    {
      case: 'SERVICE=metering with --migrate-only',
      args: ['--migrate-only'],
      service: 'metering',
      runs: 'node dist/apps/metering/src/main.js --migrate-only',
    },
    {
      case: 'service named as the first argument',
      args: ['inventory', '--migrate-only'],
      service: undefined,
      runs: 'node dist/apps/inventory/src/main.js --migrate-only',
    },
    {
      case: 'the argument wins over SERVICE',
      args: ['allocation'],
      service: 'billing',
      runs: 'node dist/apps/allocation/src/main.js',
    },
    {
      case: 'any other command runs as given (demo seed)',
      args: ['node', 'dist/scripts/seed-demo.js'],
      service: undefined,
      runs: 'node dist/scripts/seed-demo.js',
    },
  ])('$case', ({ args, service, runs }) => {
    expect(run(args, service)).toEqual({ status: 0, stdout: runs, stderr: '' });
  });

  it.each([
    { case: 'no SERVICE at all', service: undefined },
    { case: 'an unknown SERVICE', service: 'payroll' },
  ])('refuses to start with $case (exit 64, says why)', ({ service }) => {
    const result = run([], service);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/set SERVICE to inventory, allocation, metering or billing/);
  });
});
