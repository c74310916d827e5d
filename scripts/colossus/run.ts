/**
 * One Colossus run end to end, as `npm run colossus` and its test do it: the live view, the scenario against
 * the services, finance's audit (verify, replay, reconcile: the audit CLI as a child process, as the audit
 * role), the scale figures, and the HTML report.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { ColossusReportFigures, renderColossusReport } from '../../apps/audit/src/colossus-report';
import { ServiceClient } from './client';
import { LiveView } from './dashboard';
import { figuresOf, readDatabaseScale } from './figures';
import { runColossus, ScenarioOptions, ScenarioResult } from './scenario';

export interface RunOptions extends Omit<ScenarioOptions, 'onStatus'> {
  client: ServiceClient;
  /** The database as the audit role (reads every schema, writes only <schema>_replay). */
  auditDatabaseUrl: string;
  /** Where the HTML report goes. */
  reportFile: string;
  /** Extra environment of the audit CLI (e.g. the test's). */
  auditEnv?: Record<string, string>;
}

export interface RunOutcome {
  result: ScenarioResult;
  figures: ColossusReportFigures;
  audit: ColossusReportFigures['audit'];
  reportFile: string;
}

const repo = path.resolve(__dirname, '../..');

/** Runs `npm run audit -- <args>` (the CLI finance uses) and returns its exit code and output. */
export function runAudit(
  args: string[],
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/audit/src/main.ts', ...args], {
      cwd: repo,
      env: { ...process.env, ...env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ exitCode: code ?? 1, output }));
  });
}

/** The last line that says something (progress bars redraw with \r). */
function summaryOf(output: string): string {
  const lines = output
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter(Boolean);
  const failing = lines.filter((l) => /^(FAIL|DIFF)/.test(l));
  if (failing.length > 0) return `${failing.length} failing: ${failing[0]}`.slice(0, 300);
  const ok = lines.filter((l) => l.startsWith('ok ')).length;
  return (ok > 0 ? `${ok} checks ok; ` : '') + (lines.at(-1) ?? '').slice(0, 200);
}

export async function runColossusWithReport(options: RunOptions): Promise<RunOutcome> {
  const view = new LiveView(options.client);
  await view.start();
  const loads: number[] = [];
  const loadTimer = setInterval(() => loads.push(loadavg()[0]), 5000);
  loadTimer.unref();
  let result: ScenarioResult;
  try {
    result = await runColossus(options.client, {
      ...options,
      log: (line) => view.log(line) || options.log(line),
      onStatus: (s) => view.update(s),
    });
  } finally {
    clearInterval(loadTimer);
    await view.stop();
  }
  const say = options.log;

  const audit: ColossusReportFigures['audit'] = [];
  for (const args of [['verify'], ['replay'], ['reconcile', '--period', result.period]]) {
    const started = Date.now();
    const run = await runAudit(args, options.auditDatabaseUrl, options.auditEnv);
    const summary = summaryOf(run.output);
    say(
      `audit ${args.join(' ')}: exit ${run.exitCode} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${summary}`,
    );
    if (run.exitCode !== 0)
      say(
        run.output
          .split('\n')
          .filter((l) => /FAIL|DIFF|audit:/.test(l))
          .slice(0, 20)
          .join('\n'),
      );
    audit.push({ command: `audit ${args.join(' ')}`, exitCode: run.exitCode, summary });
    result.phases.push({ name: `audit ${args[0]}`, wallMs: Date.now() - started });
  }

  const db = new Client({ connectionString: options.auditDatabaseUrl });
  await db.connect();
  let databaseScale: Awaited<ReturnType<typeof readDatabaseScale>>;
  try {
    databaseScale = await readDatabaseScale(async (sql) => (await db.query(sql)).rows);
  } finally {
    await db.end();
  }
  const mean = loads.length ? loads.reduce((a, b) => a + b, 0) / loads.length : loadavg()[0];
  const figures = figuresOf(
    result,
    {
      ...databaseScale,
      peakRssBytes: [...view.peakRssBytes].map(([service, bytes]) => ({ service, bytes })),
      kafkaRecordsPublished: view.publishedSinceStart(),
      loadAverage: `${mean.toFixed(1)} mean of 1-minute load (max ${Math.max(...loads, 0).toFixed(1)}), 2 cores`,
    },
    audit,
    new Date().toISOString(),
  );
  mkdirSync(path.dirname(path.resolve(options.reportFile)), { recursive: true });
  writeFileSync(options.reportFile, renderColossusReport(figures));
  say(`report: ${path.resolve(options.reportFile)}`);
  return { result, figures, audit, reportFile: path.resolve(options.reportFile) };
}
