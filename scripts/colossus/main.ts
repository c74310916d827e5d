#!/usr/bin/env node
/**
 * npm run colossus -- [--days 30] [--speed 4320|high] [--gpus 219904] [--seed 42] [--month YYYY-MM] [--report FILE]
 *
 * The platform doing its main job: the Colossus deal run as a time-compressed month against the running
 * services (scenario.ts), with a live view, finance's audit at the end, and an HTML report. Against a stack
 * already running on 127.0.0.1:3001-3004 (`STACK_SEED=none npm run stack`), or, with --start-stack, one it
 * starts itself (and stops). Tokens come from the local dev issuer (.infra/auth), as `npm run token` mints them.
 */
import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import {
  ensureDevIssuer,
  mintToken,
  readPrivateJwk,
  serviceAudience,
  SERVICE_NAMES,
} from '@fleetledger/platform';
import { CallerRole, ScenarioError, ServiceClient, ServiceName, sleep } from './client';
import { runColossusWithReport } from './run';
import { FULL_FLEET_GPUS } from './scenario';

const repo = path.resolve(__dirname, '../..');

interface CliOptions {
  days: string;
  speed?: string;
  gpus: string;
  seed: string;
  month?: string;
  report: string;
  sampleBudget: string;
  concurrency: string;
  startStack: boolean;
  portBase: string;
  wallBudget?: string;
  auditDatabaseUrl?: string;
}

/** The month after the current one: simulated time lies ahead of every wall-clock timer of the services. */
function nextMonth(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().slice(0, 7);
}

async function ready(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health/ready`)).ok;
  } catch {
    return false;
  }
}

/** `STACK_SEED=none npm run stack` as a child; resolves once all four services are ready. */
async function startStack(portBase: number): Promise<ChildProcess> {
  process.stdout.write('[colossus] starting the stack (STACK_SEED=none; logs in .infra/logs/)\n');
  const child = spawn('bash', ['scripts/stack.sh'], {
    cwd: repo,
    env: { ...process.env, STACK_SEED: 'none', STACK_PORT_BASE: String(portBase) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => process.stdout.write(chunk.toString().replace(/^/gm, '  ')));
  child.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk.toString().replace(/^/gm, '  ')));
  const deadline = Date.now() + 15 * 60_000; // a first start builds dist/
  for (;;) {
    const all = await Promise.all([0, 1, 2, 3].map((i) => ready(`http://127.0.0.1:${portBase + i}`)));
    if (all.every(Boolean)) return child;
    if (child.exitCode !== null) throw new ScenarioError(`the stack exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new ScenarioError('the stack was not ready after 15 minutes');
    await sleep(2000);
  }
}

function auditUrlFrom(options: CliOptions): string {
  if (options.auditDatabaseUrl) return options.auditDatabaseUrl;
  const file = path.join(repo, '.infra/database-urls.env');
  if (existsSync(file)) {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('AUDIT_DATABASE_URL='));
    if (line) return line.slice('AUDIT_DATABASE_URL='.length).replace(/^['"]|['"]$/g, '');
  }
  throw new ScenarioError(
    'no audit database URL: give --audit-database-url or AUDIT_DATABASE_URL (npm run stack writes it to .infra/database-urls.env)',
  );
}

async function tokens(): Promise<Record<CallerRole, string>> {
  const files = await ensureDevIssuer(
    path.resolve(process.env.FLEETLEDGER_AUTH_DIR ?? path.join(repo, '.infra/auth')),
  );
  const key = readPrivateJwk(files.privateKeyFile);
  const mint = (role: CallerRole) =>
    mintToken(key, {
      roles: [role],
      subject: `colossus-${role}`,
      audience: SERVICE_NAMES.map(serviceAudience),
      expiresInSeconds: 12 * 3600,
    });
  return {
    operator: await mint('operator'),
    finance: await mint('finance'),
    'telemetry-agent': await mint('telemetry-agent'),
  };
}

async function main(): Promise<void> {
  const options = new Command('colossus')
    .description(
      'run the Colossus month against the platform: fleet, deal, a month of work, invoice, audit, report',
    )
    .option('--days <n>', 'simulated days (1..days of the month)', '30')
    .option(
      '--speed <x>',
      'simulated seconds per wall second, or "high" (as fast as the services answer); default: the run lasts ~10 minutes',
    )
    .option('--gpus <n>', 'fleet size (the Colossus shape, scaled)', String(FULL_FLEET_GPUS))
    .option('--seed <n>', 'seed of the fleet and the month', '42')
    .option(
      '--month <YYYY-MM>',
      'the simulated month (default: next month; a second run on one stack needs a later one)',
    )
    .option('--report <file>', 'where to write the HTML report', 'colossus-report.html')
    .option('--sample-budget <n>', 'telemetry samples to send in all (sets the sampling factor)', '3000000')
    .option('--concurrency <n>', 'requests in flight per kind of call', '8')
    .option(
      '--start-stack',
      'start `npm run stack` (STACK_SEED=none) when the services do not answer, and stop it at the end',
      false,
    )
    .option('--port-base <n>', 'first port of the four services', '3001')
    .option('--wall-budget <seconds>', 'end the month early (and say so) once its phase has taken this long')
    .addOption(
      new Option('--audit-database-url <url>', 'the database as fleetledger_audit').env('AUDIT_DATABASE_URL'),
    )
    .parse()
    .opts<CliOptions>();

  const days = Number(options.days);
  const gpus = Number(options.gpus);
  const speed: number | 'max' =
    options.speed === undefined
      ? (days * 86_400) / 600
      : options.speed === 'high' || options.speed === 'max'
        ? 'max'
        : Number(options.speed);
  if (!Number.isInteger(days) || days < 1) throw new ScenarioError('--days must be a whole number >= 1');
  if (!Number.isFinite(gpus) || gpus < 100) throw new ScenarioError('--gpus must be at least 100');
  if (speed !== 'max' && !(speed > 0)) throw new ScenarioError('--speed must be a positive number or "high"');

  const portBase = Number(options.portBase);
  const services: ServiceName[] = ['inventory', 'allocation', 'metering', 'billing'];
  const urls = Object.fromEntries(services.map((s, i) => [s, `http://127.0.0.1:${portBase + i}`])) as Record<
    ServiceName,
    string
  >;
  let stack: ChildProcess | undefined;
  const up = await Promise.all(services.map((s) => ready(urls[s])));
  if (!up.every(Boolean)) {
    if (!options.startStack)
      throw new ScenarioError(
        `the services do not answer on ${Object.values(urls).join(', ')}: start them (STACK_SEED=none npm run stack) or pass --start-stack`,
      );
    stack = await startStack(portBase);
  }
  const stopStack = () => {
    if (stack && stack.exitCode === null) stack.kill('SIGTERM');
  };
  process.on('SIGINT', () => {
    stopStack();
    process.exit(130);
  });
  try {
    const client = new ServiceClient(urls, await tokens());
    const started = Date.now();
    const outcome = await runColossusWithReport({
      client,
      month: options.month ?? nextMonth(),
      days,
      gpus,
      seed: Number(options.seed),
      speed,
      sampleBudget: Number(options.sampleBudget),
      concurrency: Number(options.concurrency),
      wallBudgetMs: options.wallBudget === undefined ? undefined : Number(options.wallBudget) * 1000,
      auditDatabaseUrl: auditUrlFrom(options),
      reportFile: options.report,
      log: (line) => process.stdout.write(`[colossus] ${line}\n`),
    });
    const f = outcome.figures;
    const lines = [
      ...(outcome.result.endedEarlyAt
        ? [`the month ended early at ${outcome.result.endedEarlyAt} (wall budget)`]
        : []),
      `wall time ${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} (2 cores)`,
      ...f.scale.phases.map((p) => `  ${p.name.padEnd(16)} ${p.seconds.toFixed(1)} s`),
      `placements: ${f.latency.count} requests, ${f.latency.placementsPerSecond.toFixed(1)} placements/s; POST /workloads p50 ${f.latency.p50Ms.toFixed(1)} ms, p99 ${f.latency.p99Ms.toFixed(1)} ms`,
      `telemetry: ${f.scale.samples.sent} samples (${f.scale.samples.accepted} accepted), ${f.scale.samples.perSecond.toFixed(0)} samples/s; sampled down ${f.run.samplingFactor}x (one sample per GPU every ${f.run.sampleIntervalSeconds} s simulated)`,
      `events: ${f.scale.eventsByService.map((e) => `${e.service} ${e.events}`).join(', ')}; Kafka records published ${f.scale.kafkaRecordsPublished}`,
      `database: ${f.scale.schemaBytes.map((s) => `${s.schema} ${(s.bytes / 1_048_576).toFixed(1)} MiB`).join(', ')}`,
      `peak RSS: ${f.scale.peakRssBytes.map((s) => `${s.service} ${(s.bytes / 1_048_576).toFixed(0)} MiB`).join(', ')}`,
      `invoice ${f.invoice.invoiceNumber ?? f.invoice.invoiceId} ${f.invoice.status}: total ${f.invoice.totalMinor} minor units (${f.invoice.currency})`,
      `audit: ${outcome.audit.map((a) => `${a.command} -> ${a.exitCode}`).join(', ')}`,
    ];
    process.stdout.write(`[colossus] figures\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
    if (outcome.audit.some((a) => a.exitCode !== 0)) process.exitCode = 1;
  } finally {
    stopStack();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `[colossus] failed: ${error instanceof ScenarioError ? error.message : String((error as Error)?.stack ?? error)}\n`,
  );
  process.exitCode = 1;
});
