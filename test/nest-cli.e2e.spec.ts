import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestDatabase } from '@fleetledger/testing';

/**
 * `nest build <app>` and `nest start <app>` work as Nest users expect (nest-cli.json, monorepo mode): the
 * build (which `nest start` runs first) rewrites the @fleetledger/* aliases, and the started service applies its migrations
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

  // `nest start` is `nest build` and then node on the entry file: one run shows both (tsc is the slow part).
  it('nest start billing -- --migrate-only builds the app with its aliases resolved and runs it: migrations land in PostgreSQL', async () => {
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
    const main = join(outDir, 'apps', 'billing', 'src', 'main.js');
    expect(existsSync(main)).toBe(true);
    expect(existsSync(join(outDir, 'libs', 'platform', 'src', 'index.js'))).toBe(true);
    expect(readFileSync(main, 'utf8')).not.toContain('@fleetledger/');
    const dataSource = await db.dataSource();
    const [{ n }] = await dataSource.query(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'billing'`,
    );
    await dataSource.destroy();
    expect(n).toBeGreaterThan(0);
  }, 200_000);
});
