// Replay benchmark (issue 7): rebuilds EVERY projection of every service from position 0 the way finance
// runs it (`replayServices(dataSource, auditedServices)`, apps/audit/src/replay.ts) on the real PostgreSQL,
// over a generated month of the whole platform (bench/audit/platform-month.ts), and prints events/s per
// projection and in total against the target (>= 20,000 events/s: 10 M events in under 10 minutes).
//
//   node -r @swc-node/register bench/audit/replay.bench.ts [--events 600000] [--batch-size 2000]
//        [--inventory-scale 1] [--read-baseline] [--example-events 100000] [--keep-db]
//
// --events         events to generate across the four logs (the number of leases follows from it)
// --batch-size     events per rebuild transaction (default: rebuildProjection's, 2000)
// --read-baseline also reads each projection source once without applying anything (read + parse only)
// --example-events also replays the worked-example projection over that many events (framework floor)
// --keep-db        keeps the seeded database (and the replayed schemas) for inspection
import 'reflect-metadata';
import { loadavg } from 'node:os';
import { newEvent, servicePrincipal } from '@fleetledger/contracts';
import {
  EventStore,
  ident,
  Projection,
  readProjectionSource,
  rebuildProjection,
  runInTransaction,
} from '@fleetledger/eventstore';
import { prepareServiceSchema, serviceMigrationOptions, ServiceOptions } from '@fleetledger/platform';
import {
  AccountOpened,
  accountsProjection,
  DepositMade,
  exampleRegistry,
  exampleService,
  TestDatabase,
} from '@fleetledger/testing';
import { DataSource, EntityManager } from 'typeorm';
import { ReplayResult, replaySchema, replayServices } from '../../apps/audit/src/replay';
import { auditedServices } from '../../apps/audit/src/services';
import { seedPlatformMonth } from './platform-month';

const TARGET_EVENTS_PER_S = 20_000;
const DEFAULT_REBUILD_BATCH = 2000;

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

const EVENTS = option('events', 600_000);
const BATCH_SIZE = option('batch-size', 0) || undefined;
const INVENTORY_SCALE = option('inventory-scale', 1);
const EXAMPLE_EVENTS = option('example-events', 0);
const READ_BASELINE = process.argv.includes('--read-baseline');
const KEEP_DB = process.argv.includes('--keep-db');

const out = (line = '') => process.stdout.write(`${line}\n`);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const rate = (events: number, seconds: number) => (seconds > 0 ? Math.round(events / seconds) : 0);
const fmt = (n: number) => n.toLocaleString('en-US');
const pad = (text: string | number, width: number) => String(text).padStart(width);

/** Each service's migrations into its own schema, with its own migrations table (as the platform runs them). */
async function migrateAll(url: string, services: ServiceOptions[]): Promise<void> {
  for (const service of services) {
    const migrator = new DataSource({
      type: 'postgres',
      url,
      ...serviceMigrationOptions(service),
    });
    await prepareServiceSchema(url, service.schema);
    await migrator.initialize();
    try {
      await migrator.runMigrations({ transaction: 'each' });
    } finally {
      await migrator.destroy();
    }
  }
}

/** Reads a projection's whole source in rebuild-sized batches without applying anything. */
async function readOnly(dataSource: DataSource, service: ServiceOptions, projection: Projection) {
  const store = new EventStore(service.schema, service.registry, {
    principal: () => servicePrincipal('bench'),
  });
  const batch = BATCH_SIZE ?? DEFAULT_REBUILD_BATCH;
  const started = Date.now();
  let position = 0;
  let events = 0;
  for (;;) {
    const items = await readProjectionSource(dataSource, store, projection, position, batch);
    events += items.length;
    if (items.length > 0) position = items[items.length - 1].position;
    if (items.length < batch) break;
  }
  return { events, seconds: (Date.now() - started) / 1000 };
}

interface Timing {
  applyMs: number;
  sqlMs: number;
  statements: number;
}

function sourceOf(projection: Projection): string {
  return projection.source.kind === 'log' ? 'log' : `inbox:${projection.source.consumer}`;
}

async function platformReplay(): Promise<void> {
  const db = await TestDatabase.create('fl_bench_replay_all');
  let dataSource: DataSource | undefined;
  try {
    await migrateAll(db.url, auditedServices);
    dataSource = await db.dataSource([], 8);
    out(`load average before seeding: ${load()}`);
    const seed = await seedPlatformMonth(dataSource, auditedServices, {
      events: EVENTS,
      month: '2026-10',
      inventoryScale: INVENTORY_SCALE,
      seed: 42,
      appendBatch: 5000,
      onProgress: (line) => process.stderr.write(`  ${line}\n`),
    });
    out(
      `seeded ${fmt(seed.totalEvents)} events in ${seed.seconds.toFixed(1)} s (${fmt(rate(seed.totalEvents, seed.seconds))} events/s): ` +
        `${seed.hours} h, ${seed.leases} leases of ${seed.tenants} tenants, ${fmt(seed.gpus)} GPUs`,
    );
    for (const [service, counts] of seed.eventsByService) {
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      const mix = [...counts.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([type, n]) => `${type.split('.')[1]} ${fmt(n)}`)
        .join(', ');
      out(`  ${service.padEnd(10)} ${pad(fmt(total), 10)}  ${mix}`);
    }
    for (const [consumer, rows] of seed.inboxRows) out(`  inbox ${consumer}: ${fmt(rows)} rows`);
    await dataSource.query('ANALYZE');

    const batch = BATCH_SIZE ?? DEFAULT_REBUILD_BATCH;
    if (READ_BASELINE) {
      out();
      out(`read + parse only (readProjectionSource, ${batch} per read, nothing applied), per source:`);
      const seen = new Set<string>();
      for (const service of auditedServices) {
        for (const projection of service.projections ?? []) {
          const key = `${service.schema}/${sourceOf(projection)}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const r = await readOnly(dataSource, service, projection);
          out(
            `  ${`${service.service} ${sourceOf(projection)}`.padEnd(40)} ${pad(fmt(r.events), 10)} events ${pad(r.seconds.toFixed(1), 7)} s ${pad(fmt(rate(r.events, r.seconds)), 9)} events/s`,
          );
        }
      }
    }

    out();
    out(
      `replayServices(dataSource, auditedServices${BATCH_SIZE ? `, { batchSize: ${BATCH_SIZE} }` : ''}): rebuild batch ${batch} events per transaction; load average ${load()}`,
    );
    // The same services and projections, each apply/applyBatch timed; the SQL statements sent while a
    // projection applies are counted and timed (transaction queries go through the EntityManager).
    const timings = new Map<Projection, Timing>();
    let applying: Timing | undefined;
    const query = EntityManager.prototype.query;
    EntityManager.prototype.query = async function (this: EntityManager, ...args: Parameters<typeof query>) {
      const timing = applying;
      if (!timing) return query.apply(this, args);
      const t = performance.now();
      try {
        return await query.apply(this, args);
      } finally {
        timing.statements += 1;
        timing.sqlMs += performance.now() - t;
      }
    } as typeof query;
    const timed = auditedServices.map((service) => ({
      ...service,
      projections: (service.projections ?? []).map((projection) => {
        const timing: Timing = { applyMs: 0, sqlMs: 0, statements: 0 };
        const run = async (work: () => Promise<void>) => {
          const t = performance.now();
          applying = timing;
          try {
            await work();
          } finally {
            applying = undefined;
            timing.applyMs += performance.now() - t;
          }
        };
        const wrapped: Projection = {
          ...projection,
          apply: (tx, event, schema) => run(() => projection.apply(tx, event, schema)),
          applyBatch: projection.applyBatch
            ? (tx, events, schema) => run(() => projection.applyBatch!(tx, events, schema))
            : undefined,
        };
        timings.set(projection, timing);
        return wrapped;
      }),
    }));
    const started = Date.now();
    let lastReport = Date.now();
    const results: ReplayResult[] = await replayServices(dataSource, timed, {
      batchSize: BATCH_SIZE,
      onProgress: (service, p) => {
        if (Date.now() - lastReport < 10_000) return;
        lastReport = Date.now();
        process.stderr.write(
          `  ${service} ${p.projection}: ${fmt(p.eventsApplied)} / ${fmt(p.totalEvents)} (load ${load()})\n`,
        );
      },
    });
    const seconds = (Date.now() - started) / 1000;
    EntityManager.prototype.query = query;
    const projections = new Map(
      auditedServices.flatMap((s) =>
        (s.projections ?? []).map((p) => [`${s.service}/${p.name}`, p] as const),
      ),
    );
    out(
      `  ${'service'.padEnd(11)}${'projection'.padEnd(24)}${'source'.padEnd(28)}${'applyBatch'.padEnd(11)}${pad('events', 10)}` +
        `${pad('seconds', 8)}${pad('events/s', 9)}  ${'vs 20k/s'.padEnd(13)}${pad('read s', 7)}${pad('apply s', 8)}${pad('SQL s', 7)}${pad('SQL/event', 10)}`,
    );
    for (const r of results) {
      // Projections of one source are rebuilt in one pass: their result names them all, joined by '+'.
      const group = r.projection
        .split('+')
        .map((name) => projections.get(`${r.service}/${name}`))
        .filter((p): p is Projection => p !== undefined);
      const projection = group[0];
      const timing = group
        .map((p) => timings.get(p))
        .reduce<Timing>(
          (sum, t) => ({
            applyMs: sum.applyMs + (t?.applyMs ?? 0),
            sqlMs: sum.sqlMs + (t?.sqlMs ?? 0),
            statements: sum.statements + (t?.statements ?? 0),
          }),
          { applyMs: 0, sqlMs: 0, statements: 0 },
        );
      const s = r.durationMs / 1000;
      const perSecond = rate(r.eventsApplied, s);
      const applyS = (timing?.applyMs ?? 0) / 1000;
      out(
        `  ${r.service.padEnd(11)}${`${r.projection} `.padEnd(24)}${(projection ? sourceOf(projection) : '?').padEnd(28)}` +
          `${group
            .map((p) => (p.applyBatch ? 'yes' : 'no'))
            .join('+')
            .padEnd(11)}${pad(fmt(r.eventsApplied), 10)}${pad(s.toFixed(1), 8)}${pad(fmt(perSecond), 9)}  ` +
          `${(perSecond >= TARGET_EVENTS_PER_S ? 'ok' : `BELOW ${(perSecond / TARGET_EVENTS_PER_S).toFixed(2)}x`).padEnd(13)}` +
          `${pad(Math.max(0, s - applyS).toFixed(1), 7)}${pad(applyS.toFixed(1), 8)}${pad(((timing?.sqlMs ?? 0) / 1000).toFixed(1), 7)}` +
          `${pad(((timing?.statements ?? 0) / Math.max(r.eventsApplied, 1)).toFixed(2), 10)}`,
      );
    }
    out(
      `  (apply s: inside the projection's apply/applyBatch; SQL s / SQL/event: its statements' round trips and count per event; ` +
        `read s: the rest = reading + parsing the source, checkpoints, commits)`,
    );
    out('  rows in the replayed tables (so a projection that ignored its events shows here):');
    for (const service of auditedServices) {
      for (const projection of service.projections ?? []) {
        const counts: string[] = [];
        for (const table of projection.tables) {
          const [{ n }] = await dataSource.query(
            `SELECT count(*)::bigint AS n FROM ${ident(replaySchema(service))}.${ident(table)}`,
          );
          counts.push(`${table} ${fmt(Number(n))}`);
        }
        out(`    ${`${service.service} ${projection.name}`.padEnd(34)} ${counts.join(', ')}`);
      }
    }
    const applied = results.reduce((n, r) => n + r.eventsApplied, 0);
    const logEvents = seed.totalEvents;
    const logRate = rate(logEvents, seconds);
    out(
      `  total: ${fmt(applied)} source events read (one pass per log or inbox; inventory events are read by three inboxes) in ${seconds.toFixed(1)} s = ${fmt(rate(applied, seconds))} projection-events/s`,
    );
    out(
      `  whole platform: ${fmt(logEvents)} logged events replayed through every projection in ${seconds.toFixed(1)} s = ${fmt(logRate)} events/s ` +
        `(target ${fmt(TARGET_EVENTS_PER_S)}: ${logRate >= TARGET_EVENTS_PER_S ? 'met' : 'NOT met'})`,
    );
    out(
      `  10 M events at this rate, same mix: ${(10_000_000 / Math.max(logRate, 1) / 60).toFixed(1)} min (target < 10 min); load average after: ${load()}`,
    );
  } finally {
    await dataSource?.destroy();
    if (KEEP_DB) out(`database kept for inspection: ${db.url} (DROP DATABASE ${db.name} when done)`);
    else await db.drop();
  }
}

/** The worked-example projection (one row update per event, batch fast path): the framework's floor. */
async function exampleReplay(events: number): Promise<void> {
  const db = await TestDatabase.create('fl_bench_replay');
  const dataSource = await db.dataSource(exampleService.migrations, 4);
  const store = new EventStore('example', exampleRegistry, {
    principal: () => servicePrincipal('bench'),
  });
  try {
    const accounts = 1000;
    await runInTransaction(dataSource, (tx) =>
      store.appendToStreams(
        tx,
        Array.from({ length: accounts }, (_, a) => ({
          streamId: `account-${a}`,
          expectedVersion: 0,
          events: [newEvent(AccountOpened, { accountId: `a${a}`, owner: 'lab' }, '2026-11-01T00:00:00Z')],
        })),
        { correlationId: 'bench' },
      ),
    );
    for (let done = accounts; done < events; done += 2000) {
      await runInTransaction(dataSource, (tx) =>
        store.appendToStreams(
          tx,
          Array.from({ length: 2000 }, (_, i) => ({
            streamId: `account-${(done + i) % accounts}`,
            expectedVersion: 'any' as const,
            events: [
              newEvent(
                DepositMade,
                { accountId: `a${(done + i) % accounts}`, amountMinor: 1 },
                '2026-11-02T00:00:00Z',
              ),
            ],
          })),
          { correlationId: 'bench' },
        ),
      );
    }
    const t = Date.now();
    const result = await rebuildProjection(dataSource, store, accountsProjection, { batchSize: 5000 });
    const s = (Date.now() - t) / 1000;
    out(
      `worked example (accounts, applyBatch, batch 5000): ${fmt(result.eventsApplied)} events in ${s.toFixed(1)} s = ${fmt(rate(result.eventsApplied, s))} events/s`,
    );
  } finally {
    await dataSource.destroy();
    await db.drop();
  }
}

async function main() {
  process.env.TEST_ADMIN_DATABASE_URL ??=
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  await platformReplay();
  if (EXAMPLE_EVENTS > 0) await exampleReplay(EXAMPLE_EVENTS);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
