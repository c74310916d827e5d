import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestDatabase } from '@fleetledger/testing';

/**
 * `nest build <app>` and `nest start <app>` work as Nest users expect (nest-cli.json, monorepo mode): the
 * build rewrites the @fleetledger/* aliases, and the started service applies its migrations
 * (`-- --migrate-only`) against a real PostgreSQL. Output goes to a folder of its own, so this test never
 * races `npm run build` (the stack test) over dist/.
 */
const run = promisify(execFile);
const root = join(__dirname, '..');

describe('the Nest CLI on this monorepo', () => {
  const name = `nest-${randomBytes(4).toString('hex')}`;
  const outDir = join(root, '.infra', name);
  const tsconfig = `.infra/${name}.tsconfig.json`; // the Nest CLI reads -p relative to the workspace
  let db: TestDatabase;

  beforeAll(async () => {
    mkdirSync(join(root, '.infra'), { recursive: true });
    writeFileSync(
      join(root, tsconfig),
      JSON.stringify({ extends: './../apps/billing/tsconfig.app.json', compilerOptions: { outDir } }),
    );
    db = await TestDatabase.create('fl_nest_cli');
  });

  afterAll(async () => {
    rmSync(outDir, { recursive: true, force: true });
    rmSync(join(root, tsconfig), { force: true });
    await db?.drop();
  });

  it('nest build billing compiles the app and its libraries with the path aliases resolved', async () => {
    await run('npx', ['nest', 'build', 'billing', '-p', tsconfig], { cwd: root, timeout: 180_000 });
    const main = join(outDir, 'apps', 'billing', 'src', 'main.js');
    expect(existsSync(main)).toBe(true);
    expect(existsSync(join(outDir, 'libs', 'platform', 'src', 'index.js'))).toBe(true);
    expect(readFileSync(main, 'utf8')).not.toContain('@fleetledger/');
  }, 200_000);

  it('nest start billing -- --migrate-only runs the built service: its migrations land in PostgreSQL', async () => {
    const { stdout } = await run(
      'npx',
      ['nest', 'start', 'billing', '-p', tsconfig, '--', '--migrate-only'],
      {
        cwd: root,
        timeout: 180_000,
        env: {
          ...process.env,
          DATABASE_URL: db.url,
          MIGRATIONS_RUN: 'true',
          LOG_LEVEL: 'warn',
        },
      },
    );
    expect(stdout).toMatch(/"migrationsApplied":\[".+"\]/);
    const dataSource = await db.dataSource();
    const [{ n }] = await dataSource.query(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'billing'`,
    );
    await dataSource.destroy();
    expect(n).toBeGreaterThan(0);
  }, 200_000);
});
