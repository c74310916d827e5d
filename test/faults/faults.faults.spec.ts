import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { deadLetterTopic, Topics } from '@fleetledger/contracts';
import { DataSource } from 'typeorm';
import { testCallerToken } from '@fleetledger/testing';
import { prepareTestAuth } from '../../libs/testing/src/test-auth-setup';
import { auditedServices } from '../../apps/audit/src/services';
import { reconcileServices, replayServices } from '../../apps/audit/src/replay';
import { verifyAll } from '../../apps/audit/src/verify';
import { nextDayMs, Stage, WorkloadDriver } from './driver';
import {
  cluster,
  eventually,
  FaultPlatform,
  privatePostgres,
  REPO,
  SESSION_TIMEOUT_MS,
  sleep,
} from './platform';
import { expectedInvoice, expectedUsage, ExpectedWindow, generatePhase, PhaseWorkload } from './workload';

/**
 * The fault suite (docs/reliability.md): the platform under a seeded workload while one fault at a time
 * hits it, on a three-node Kafka cluster (RF 3, min ISR 2) and a private PostgreSQL. Each fault gets its
 * own day of workload; after each, everything so far must add up exactly: usage per lease, class and hour
 * equals the generator's expectation, the draft invoice equals a pure recomputation, the audit's verify and
 * reconcile pass, no dead letter, and every consumer group is caught up (lag 0) within RECOVERY_BUDGET_MS.
 *
 *   npm run test:faults        (FAULTS_SEED to change the workload; FAULTS_ONLY=name,name for a subset)
 */
const SEED = Number(process.env.FAULTS_SEED ?? 20260301);
const RECOVERY_BUDGET_MS = 120_000;
const run = promisify(execFile);

interface FaultContext {
  platform: FaultPlatform;
  driver: WorkloadDriver;
  phase: PhaseWorkload;
  /** Facts a fault reports (e.g. the broker it killed); printed with the figures. */
  notes: string[];
  /** What a graceful shutdown did, for the test to assert. */
  shutdown: {
    exit?: { code: number | null; signal: NodeJS.Signals | null };
    shutdownMs: number;
    budgetMs: number;
    /** Telemetry records whose offsets were committed, and samples stored, between SIGTERM and exit. */
    advanced: number;
    stored: number;
  }[];
}

interface Fault {
  name: string;
  stage?: Stage;
  inject?(ctx: FaultContext): Promise<void>;
  /** Runs once the phase's workload is all sent: restarts what the fault left down. */
  recover?(ctx: FaultContext): Promise<void>;
  duplicateTelemetry?: boolean;
  republishShare?: number;
}

/** SIGKILL a service and start it again in the background: the workload goes on meanwhile. */
function killAndRestart(service: 'inventory' | 'allocation' | 'metering' | 'billing'): Fault['inject'] {
  return async ({ platform, driver, notes }) => {
    const exit = await platform.signal(service, 'SIGKILL');
    notes.push(`${service} exit ${exit?.signal ?? exit?.code}`);
    driver.pending.push(platform.startService(service));
  };
}

let leaderDown: number | undefined;
const FAULTS: Fault[] = [
  { name: 'none (baseline)' },
  {
    name: 'kill -9 the leader of metering.telemetry.v1[0]',
    stage: 'mid-telemetry',
    inject: async ({ platform, notes }) => {
      leaderDown = await platform.leaderOf(Topics.meteringTelemetry);
      await cluster('kill', String(leaderDown));
      notes.push(`broker ${leaderDown} killed`);
    },
    recover: async () => void (await cluster('start', String(leaderDown))),
  },
  {
    name: 'kill -9 the leader of allocation.events.v1[0]',
    stage: 'start',
    inject: async ({ platform, notes }) => {
      leaderDown = await platform.leaderOf(Topics.allocationEvents);
      await cluster('kill', String(leaderDown));
      notes.push(`broker ${leaderDown} killed`);
    },
    recover: async () => void (await cluster('start', String(leaderDown))),
  },
  { name: 'SIGKILL inventory', stage: 'mid-telemetry', inject: killAndRestart('inventory') },
  { name: 'SIGKILL allocation mid-timeline', stage: 'mid-timeline', inject: killAndRestart('allocation') },
  { name: 'SIGKILL metering mid-ingestion', stage: 'mid-telemetry', inject: killAndRestart('metering') },
  { name: 'SIGKILL billing while rating', stage: 'closed', inject: killAndRestart('billing') },
  {
    name: 'restart PostgreSQL',
    stage: 'mid-telemetry',
    inject: async ({ notes }) => {
      const t = Date.now();
      await privatePostgres('restart');
      notes.push(`pg_ctl restart -m fast took ${Date.now() - t} ms`);
    },
  },
  {
    name: `SIGSTOP billing ${SESSION_TIMEOUT_MS / 1000 + 5} s while corrections flow`,
    stage: 'closed',
    inject: async ({ platform, driver }) => {
      await platform.signal('billing', 'SIGSTOP');
      // The closer's corrections are published while billing sleeps; it is resumed past its session timeout.
      driver.pending.push(
        sleep(SESSION_TIMEOUT_MS + 5_000).then(() => platform.signal('billing', 'SIGCONT')),
      );
    },
  },
  {
    name: 'duplicate flood (telemetry x2, 10% of domain events again)',
    duplicateTelemetry: true,
    republishShare: 0.1,
  },
  {
    name: `network cut of the metering.telemetry.v1[0] leader for ${SESSION_TIMEOUT_MS / 1000 + 5} s`,
    stage: 'mid-telemetry',
    inject: async ({ platform, driver, notes }) => {
      const broker = await platform.leaderOf(Topics.meteringTelemetry);
      await cluster('cut', String(broker));
      notes.push(`broker ${broker} cut off`);
      driver.pending.push(sleep(SESSION_TIMEOUT_MS + 5_000).then(() => cluster('heal', String(broker))));
    },
  },
  {
    name: 'combined: kill -9 the metering.telemetry.v1[0] leader + SIGKILL metering + restart PostgreSQL',
    stage: 'mid-telemetry',
    inject: async (ctx) => {
      leaderDown = await ctx.platform.leaderOf(Topics.meteringTelemetry);
      await cluster('kill', String(leaderDown));
      ctx.notes.push(`broker ${leaderDown} killed`);
      await killAndRestart('metering')!(ctx);
      await privatePostgres('restart');
    },
    recover: async () => void (await cluster('start', String(leaderDown))),
  },
  {
    name: 'SIGTERM metering mid-ingestion (graceful shutdown)',
    stage: 'mid-telemetry',
    inject: async ({ platform, driver, notes, shutdown, phase }) => {
      const { grace, preStop } = gracePeriod('metering');
      const group = `${platform.topicPrefix}metering-telemetry`;
      const committed = async () =>
        (
          await platform.withAdmin((admin) =>
            admin.fetchOffsets({
              groupId: group,
              topics: [`${platform.topicPrefix}${Topics.meteringTelemetry}`],
            }),
          )
        )
          .flatMap((t) => t.partitions)
          .reduce((n, p) => n + Math.max(Number(p.offset), 0), 0);
      const before = await committed();
      const storedBefore = await driver.storedSamples(phase.day);
      const t = Date.now();
      const exit = await platform.signal('metering', 'SIGTERM');
      const shutdownMs = Date.now() - t;
      const advanced = (await committed()) - before;
      const stored = (await driver.storedSamples(phase.day)) - storedBefore;
      notes.push(
        `exit ${exit?.code ?? exit?.signal} in ${shutdownMs} ms (budget ${(grace - preStop) * 1000} ms = grace ${grace} s - preStop ${preStop} s); ` +
          `offsets committed past every stored sample: ${advanced} records committed, ${stored} samples stored since`,
      );
      shutdown.push({ exit, shutdownMs, budgetMs: (grace - preStop) * 1000, advanced, stored });
      driver.pending.push(platform.startService('metering'));
    },
  },
];

/** terminationGracePeriodSeconds and the preStop sleep of a service's Deployment in k8s/base. */
function gracePeriod(service: string): { grace: number; preStop: number } {
  const manifest = readFileSync(path.join(REPO, `k8s/base/${service}.yaml`), 'utf8');
  const grace = Number(/terminationGracePeriodSeconds:\s*(\d+)/.exec(manifest)?.[1]);
  const preStop = Number(/command:\s*\['sleep',\s*'(\d+)'\]/.exec(manifest)?.[1] ?? 0);
  if (!grace) throw new Error(`no terminationGracePeriodSeconds in k8s/base/${service}.yaml`);
  return { grace, preStop };
}

interface Figure {
  fault: string;
  recoveryMs: number;
  duringFault: number;
  /** Samples metering found already stored (redelivered or resent), plus domain events re-published. */
  duplicatesAbsorbed: number;
  /** Records the suite itself sent more than once (the flood). */
  resent: number;
  drafts: DraftsSeen;
  lost: number;
  corrections: number;
  notes: string;
  load: string;
}

const only = process.env.FAULTS_ONLY?.split(',').map((s) => s.trim().toLowerCase());
const selected = FAULTS.filter((f) => !only || only.some((o) => f.name.toLowerCase().includes(o)));

describe('faults at platform scale: nothing lost or billed twice', () => {
  const platform = new FaultPlatform();
  let driver: WorkloadDriver;
  const phases: PhaseWorkload[] = [];
  const figures: Figure[] = [];
  const log = (line: string) => process.stderr.write(`[faults] ${line}\n`);
  // As the audit role, like the CLI: it reads every schema and writes only the *_replay ones.
  let audit: DataSource | undefined;
  const auditDataSource = async () =>
    (audit ??= await new DataSource({
      type: 'postgres',
      url: platform.db.auditUrl,
      extra: { max: 2 },
    }).initialize());

  beforeAll(async () => {
    process.env.KAFKAJS_LOG_LEVEL ??= 'nothing';
    await prepareTestAuth();
    try {
      await platform.start(log);
      driver = new WorkloadDriver(platform, testCallerToken());
      await driver.setUp();
    } catch (error) {
      await platform.stop();
      throw error;
    }
  }, 600_000);

  afterAll(async () => {
    await audit?.destroy();
    await driver?.stop();
    await platform.stop();
    if (figures.length > 0) {
      const table = [
        '| fault | recovery (lag 0, totals exact) | records processed during the fault | duplicates absorbed (sent twice on purpose) | lost | corrections | draft polled: peak / final total (polls, complete) | notes | load average |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        ...figures.map(
          (f) =>
            `| ${f.fault} | ${(f.recoveryMs / 1000).toFixed(1)} s | ${f.duringFault} | ${f.duplicatesAbsorbed} (${f.resent}) | ${f.lost} | ${f.corrections} | ${f.drafts.peak} / ${f.drafts.final} (${f.drafts.polls}, ${f.drafts.complete}) | ${f.notes} | ${f.load} |`,
        ),
      ].join('\n');
      log(`figures (seed ${SEED}):\n${table}`);
      mkdirSync(path.join(REPO, '.infra'), { recursive: true });
      writeFileSync(path.join(REPO, '.infra/faults-figures.md'), `seed ${SEED}\n\n${table}\n`);
    }
  }, 180_000);

  it.each(selected.map((fault, i) => [fault.name, fault, i] as const))(
    '%s',
    async (_name, fault, i) => {
      const repaired = await platform.repair();
      if (repaired.length > 0) log(`repaired what an earlier phase left down: ${repaired.join(', ')}`);
      const phase = generatePhase(SEED, i + 1);
      phases.push(phase);
      const ctx: FaultContext = { platform, driver, phase, notes: [], shutdown: [] };
      const telemetryBefore = await platform.topicRecords(Topics.meteringTelemetry);
      const drafts = sampleDrafts(driver);
      let injectedAt = 0;
      let workAtInject = 0;
      const meteringProcess = platform.services.get('metering')!.child;
      const duplicatesAtStart = await driver.meteringDuplicates();
      let duplicatesAtInject = duplicatesAtStart;
      const at = async (stage: Stage) => {
        if (fault.stage !== stage || !fault.inject) return;
        workAtInject = await driver.workDone();
        duplicatesAtInject = await driver.meteringDuplicates();
        injectedAt = Date.now();
        await fault.inject(ctx);
      };

      await at('start');
      await driver.runTimeline(phase.jobs, () => at('mid-timeline'));
      await at('placed');
      expect(await eventually(() => driver.meteringKnowsPlacements(phase), 120_000)).toBe(true);
      const onTime = phase.samples.filter((s) => !s.late);
      const late = phase.samples.filter((s) => s.late);
      const times = fault.duplicateTelemetry ? 2 : 1;
      let sent = await driver.publishTelemetry(onTime, { times, midway: () => at('mid-telemetry') });
      // Close the day once its on-time samples are in (what is not in yet becomes a correction, still exact).
      await eventually(async () => (await driver.storedSamples(phase.day)) >= onTime.length, 60_000);
      await driver.close(nextDayMs(phase.day, 10));
      await at('closed');
      sent += await driver.publishTelemetry(late, { times });
      await at('corrections');
      let republished = 0;
      if (fault.republishShare)
        republished = await driver.republishDomainEvents(fault.republishShare, SEED + i);
      await Promise.all(driver.pending.splice(0));
      await fault.recover?.(ctx);
      const recoveryStart = injectedAt || Date.now();
      const workAtRecover = await driver.workDone();

      // Converged: every group caught up, usage and invoice exactly as computed from the workload alone.
      const usageExpected = expectedUsage(phases);
      const invoiceExpected = expectedInvoice(usageExpected.values());
      let usageSeen = new Map<string, ExpectedWindow>();
      let lag: Record<string, number> = {};
      let corrections = 0;
      const converged = await eventually(
        async () => {
          // Late samples stored after the last close are corrected by the next one (an operator's closer runs every minute).
          corrections += (await driver.close(nextDayMs(phase.day, 11))).corrected;
          lag = await platform.consumerLag();
          usageSeen = await driver.usage();
          const invoice = await driver.invoice();
          return (
            Object.values(lag).every((n) => n === 0) &&
            sameUsage(usageSeen, usageExpected) &&
            isDeepStrictEqual(invoice, invoiceExpected)
          );
        },
        RECOVERY_BUDGET_MS,
        1_000,
      );
      const recoveryMs = Date.now() - recoveryStart;
      const draftSeen = await drafts.stop();
      // Never billed twice, not even for a moment: no draft a tenant could see was above the final total.
      expect(BigInt(draftSeen.peak)).toBeLessThanOrEqual(BigInt(invoiceExpected.totalMinor));
      expect(lag).toEqual(Object.fromEntries(Object.keys(lag).map((k) => [k, 0])));
      expect(sortedWindows(usageSeen)).toEqual(sortedWindows(usageExpected));
      expect(await driver.invoice()).toEqual(invoiceExpected);
      expect(converged).toBe(true);
      for (const { exit, shutdownMs, budgetMs, advanced, stored } of ctx.shutdown) {
        expect(exit).toEqual({ code: 0, signal: null });
        expect(shutdownMs).toBeLessThan(budgetMs);
        // The in-flight batch finished and its offsets were committed: nothing stored is delivered again.
        expect(advanced).toBeGreaterThanOrEqual(stored);
      }

      // The audit: hash chains whole, every event a consumer needs in its inbox exactly once, projections
      // rebuilt from the logs equal to the live ones (the same functions `npm run audit -- verify|reconcile` run).
      const db = await auditDataSource();
      const verified = await verifyAll(db, auditedServices, 20);
      expect(verified.chains.filter((c) => !c.verification.ok)).toEqual([]);
      expect(verified.ok).toBe(true);
      await replayServices(db, auditedServices);
      expect((await reconcileServices(db, auditedServices)).flatMap((r) => r.differences)).toEqual([]);
      expect(await driver.deadLetters()).toBe(0);
      // ... and nothing on any dead-letter topic either (the topics are created with their base topic).
      for (const base of Object.values(Topics))
        expect({
          topic: deadLetterTopic(base),
          records: await platform.topicRecords(deadLetterTopic(base)),
        }).toEqual({
          topic: deadLetterTopic(base),
          records: 0,
        });

      const telemetryRecords = (await platform.topicRecords(Topics.meteringTelemetry)) - telemetryBefore;
      const stored = await driver.storedSamples(phase.day);
      // Metering's duplicate counter restarts with the process: what it counted before the fault, plus the new one's.
      const restarted = platform.services.get('metering')!.child !== meteringProcess;
      const telemetryDuplicates = restarted
        ? duplicatesAtInject - duplicatesAtStart + (await driver.meteringDuplicates())
        : (await driver.meteringDuplicates()) - duplicatesAtStart;
      log(`${fault.name}: recovered in ${(recoveryMs / 1000).toFixed(1)} s; ${ctx.notes.join('; ')}`);
      figures.push({
        fault: fault.name,
        recoveryMs,
        duringFault: injectedAt ? workAtRecover - workAtInject : 0,
        duplicatesAbsorbed: telemetryDuplicates + republished,
        resent: telemetryRecords - stored + republished,
        drafts: draftSeen,
        lost: phase.samples.length - stored,
        corrections,
        notes: [...ctx.notes, `${sent} telemetry records sent`].join('; '),
        load: loadavg()
          .map((l) => l.toFixed(2))
          .join(' '),
      });
      expect(stored).toBe(phase.samples.length);
    },
    600_000,
  );

  it('the audit CLI agrees: `npm run audit -- verify`, `replay`, `reconcile` exit 0', async () => {
    const env = { ...process.env, DATABASE_URL: platform.db.auditUrl };
    for (const command of ['verify', 'replay', 'reconcile']) {
      const { stdout } = await run('node', ['-r', '@swc-node/register', 'apps/audit/src/main.ts', command], {
        cwd: REPO,
        env,
        timeout: 180_000,
      });
      expect(stdout).not.toMatch(/^DIFF/m);
    }
  }, 600_000);
});

function sortedWindows(usage: Map<string, ExpectedWindow>): ExpectedWindow[] {
  return [...usage.values()]
    .filter((w) => w.gpuMsAllocated > 0 || w.sampleCount > 0)
    .sort((a, b) => `${a.gpuClass}${a.hourStart}`.localeCompare(`${b.gpuClass}${b.hourStart}`));
}

function sameUsage(a: Map<string, ExpectedWindow>, b: Map<string, ExpectedWindow>): boolean {
  return JSON.stringify(sortedWindows(a)) === JSON.stringify(sortedWindows(b));
}

interface DraftsSeen {
  polls: number;
  peak: string;
  final: string;
  /** How many polls said complete (billing's completeness, #22), or n/a where billing does not report it. */
  complete: string;
}

/**
 * Polls the month's draft invoice every second during a phase, as a tenant watching it would: the peak
 * total seen must never exceed the final one (usage only grows; a double count would show as a peak above).
 */
function sampleDrafts(driver: WorkloadDriver): { stop(): Promise<DraftsSeen> } {
  let running = true;
  let polls = 0;
  let peak = -1n;
  let complete: number | undefined;
  const loop = (async () => {
    for (let i = 0; running && i < 1_000; i++) {
      const draft = await driver.draftSample();
      if (draft) {
        polls += 1;
        if (draft.totalMinor > peak) peak = draft.totalMinor;
        if (draft.complete !== undefined) complete = (complete ?? 0) + (draft.complete ? 1 : 0);
      }
      await sleep(1_000);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const last = await driver.draftSample();
      return {
        polls,
        peak: String(peak),
        final: String(last?.totalMinor ?? 'none'),
        complete: complete === undefined ? 'n/a' : `${complete} complete`,
      };
    },
  };
}
