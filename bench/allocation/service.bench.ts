/**
 * Placement decisions through the service's engine WITH persistence, on a 220,000-GPU fleet:
 * each submission and release is decided in memory, then appended (expected stream version) with its
 * outbox rows and inline projections in one PostgreSQL transaction. HTTP and Kafka are left out:
 * this measures the decision + persistence path every caller goes through (target >= 500/s).
 *
 * Then replays every allocation projection from the log (or inbox) with and without its batch applier.
 *
 * Run: node -r @swc-node/register bench/allocation/service.bench.ts [--ops 3000]
 * Uses DATABASE_URL (default the local server) and drops its database afterwards.
 */
import 'reflect-metadata';
import { allocation, EventRegistry, inventory, servicePrincipal } from '@fleetledger/contracts';
import { EventStore, Projection, rebuildProjection } from '@fleetledger/eventstore';
import { TestDatabase } from '@fleetledger/testing';
import { v7 as uuidv7 } from 'uuid';
import { AllocationCommands } from '../../apps/allocation/src/handlers/allocation-commands';
import { AllocationEngine, ownProjections } from '../../apps/allocation/src/handlers/allocation-engine';
import { allocationMigrations } from '../../apps/allocation/src/migrations';
import {
  fleetGpusProjection,
  INVENTORY_CONSUMER,
} from '../../apps/allocation/src/projections/fleet-gpus.projection';
import { fleetEvents, HallSpec } from '../../apps/allocation/test/fleet-builder';

const AT = '2026-03-01T00:00:00.000Z';
const TERM = { start: '2026-01-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' };
const argOps = process.argv.indexOf('--ops');
const OPS = argOps > 0 ? Number(process.argv[argOps + 1]) : 3000;

function fleet(): HallSpec[] {
  const racks: HallSpec['racks'] = [
    ...Array.from({ length: 3125 }, () => ({ gpuClass: 'H100' as const })),
    ...Array.from({ length: 1500 }, () => ({ gpuClass: 'H200' as const })),
    ...Array.from({ length: 1000 }, () => ({ gpuClass: 'GB200' as const })),
  ];
  const halls: HallSpec[] = [];
  for (let i = 0; i < racks.length; i += 100) halls.push({ racks: racks.slice(i, i + 100) });
  return halls;
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(2);

async function main() {
  process.env.TEST_ADMIN_DATABASE_URL ??=
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = await TestDatabase.create('fl_alloc_bench');
  const dataSource = await db.dataSource(allocationMigrations, 8);
  try {
    // The fleet as the inventory consumer would have stored it in the inbox.
    const events = fleetEvents(fleet(), { sitePowerCapW: 330_000_000 });
    for (let i = 0; i < events.length; i += 500) {
      const chunk = events.slice(i, i + 500) as inventory.InventoryEvent[];
      await dataSource.query(
        `INSERT INTO allocation.inbox (consumer, event_id, topic, partition, kafka_offset, envelope)
         SELECT $1, e, 'inventory.events.v1', 0, o, v FROM unnest($2::uuid[], $3::bigint[], $4::jsonb[]) AS t(e, o, v)`,
        [
          INVENTORY_CONSUMER,
          chunk.map(() => uuidv7()),
          chunk.map((_, k) => i + k),
          chunk.map((e, k) =>
            JSON.stringify({
              eventId: uuidv7(),
              type: e.type,
              schemaVersion: 1,
              streamId: 'inv',
              streamVersion: i + k + 1,
              globalPosition: i + k + 1,
              occurredAt: AT,
              recordedAt: AT,
              correlationId: 'bench',
              payload: e.payload,
            }),
          ),
        ],
      );
    }
    const store = new EventStore(
      'allocation',
      new EventRegistry([...allocation.allAllocationEvents, ...inventory.allInventoryEvents]),
      {
        principal: () => servicePrincipal('bench'),
      },
    );
    const engine = new AllocationEngine(dataSource, store, 'bench.allocation.events.v1');
    let t = performance.now();
    await engine.start();
    process.stdout.write(
      `state loaded from the inbox (220,000 GPUs) in ${(performance.now() - t).toFixed(0)} ms\n`,
    );
    const commands = new AllocationCommands(engine);

    for (let tenant = 0; tenant < 10; tenant++) {
      await commands.lease(
        {
          kind: 'sign',
          leaseId: `lease-${tenant}`,
          tenantId: `tenant-${tenant}`,
          term: TERM,
          committedGpus: { H100: 10_000, H200: 4_800, GB200: 7_200 },
          exclusivity: 'shared',
          scope: { hallIds: [], rackIds: [] },
          ratePlanId: 'rp',
          author: 'bench',
          at: AT,
        },
        'bench',
      );
      await commands.lease(
        { kind: 'activate', leaseId: `lease-${tenant}`, author: 'bench', at: AT },
        'bench',
      );
      for (const gpuClass of allocation.GPU_CLASSES)
        for (const workloadClass of allocation.WORKLOAD_CLASSES) {
          await commands.quota(
            {
              tenantId: `tenant-${tenant}`,
              gpuClass,
              workloadClass,
              change: { kind: 'set', nominal: 100_000, borrowLimit: 0 },
              reason: 'bench',
              author: 'bench',
              at: AT,
            },
            'bench',
          );
        }
    }

    const sizes = [1, 2, 4, 8, 8, 16, 32, 64];
    const classes = allocation.WORKLOAD_CLASSES;
    const latencies: number[] = [];
    const placed: string[] = [];
    t = performance.now();
    // Sequential callers (one in-flight decision at a time): submissions, with a release every third step.
    for (let i = 0; i < OPS; i++) {
      const s = performance.now();
      if (i % 3 === 2 && placed.length > 0) {
        await commands.release(placed.shift()!, AT, 'bench');
      } else {
        const workloadId = `w${i}`;
        const out = await commands.submit(
          {
            workloadId,
            tenantId: `tenant-${i % 10}`,
            workloadClass: classes[i % 3],
            gpuCount: sizes[i % sizes.length],
            gang: true,
            topology: 'any',
            priority: 10,
          },
          AT,
          'bench',
        );
        if (out.some((e) => e.type === allocation.WorkloadPlaced.type)) placed.push(workloadId);
      }
      latencies.push(performance.now() - s);
    }
    const sequentialMs = performance.now() - t;
    latencies.sort((a, b) => a - b);
    process.stdout.write(
      `sequential: ${OPS} decisions persisted in ${sequentialMs.toFixed(0)} ms = ${((OPS / sequentialMs) * 1000).toFixed(0)}/s, p50 ${pct(latencies, 0.5)} ms, p99 ${pct(latencies, 0.99)} ms\n`,
    );

    // Where the time goes: the event store's version lookup on the (long) placement-ledger stream.
    const plan: { 'QUERY PLAN': string }[] = await dataSource.query(
      `EXPLAIN ANALYZE SELECT stream_id, max(stream_version)::int AS version FROM allocation.events WHERE stream_id = ANY($1::text[]) GROUP BY stream_id`,
      [[allocation.AllocationStreams.placementLedger]],
    );
    process.stdout.write(
      `event-store version lookup on placement-ledger:\n  ${plan.map((r) => r['QUERY PLAN']).join('\n  ')}\n`,
    );

    // Concurrent callers: the engine serialises decisions; transactions pipeline behind one another.
    t = performance.now();
    const callers = 16;
    const per = Math.floor(OPS / callers);
    await Promise.all(
      Array.from({ length: callers }, async (_, c) => {
        for (let i = 0; i < per; i++) {
          await commands.submit(
            {
              workloadId: `c${c}-${i}`,
              tenantId: `tenant-${c % 10}`,
              workloadClass: classes[i % 3],
              gpuCount: sizes[i % sizes.length],
              gang: true,
              topology: 'any',
              priority: 10,
            },
            AT,
            'bench',
          );
        }
      }),
    );
    const concurrentMs = performance.now() - t;
    process.stdout.write(
      `concurrent (${callers} callers): ${callers * per} submissions persisted in ${concurrentMs.toFixed(0)} ms = ${(((callers * per) / concurrentMs) * 1000).toFixed(0)}/s\n`,
    );

    // Replay: every projection rebuilt from position 0 into a fresh schema, with its batch applier
    // (a batch folded into a few statements) and without it (one event at a time), 2,000 events a read.
    for (const projection of [...ownProjections, fleetGpusProjection]) {
      const figures: string[] = [];
      for (const [label, variant] of [
        ['batched', projection],
        ['one by one', { ...projection, applyBatch: undefined } as Projection],
      ] as const) {
        t = performance.now();
        const rebuilt = await rebuildProjection(dataSource, store, variant, {
          targetSchema: `bench_${projection.name.replace(/-/g, '_')}_${label === 'batched' ? 'b' : 'o'}`,
          batchSize: 2000,
        });
        const ms = performance.now() - t;
        figures.push(
          `${label} ${rebuilt.eventsApplied} events in ${ms.toFixed(0)} ms = ${((rebuilt.eventsApplied / ms) * 1000).toFixed(0)}/s`,
        );
      }
      process.stdout.write(`replay ${projection.name}: ${figures.join('; ')}\n`);
    }
  } finally {
    await dataSource.destroy();
    await db.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
