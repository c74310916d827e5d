// Replay benchmark: rebuilds projections from position 0 on the real PostgreSQL and prints events/s.
//   node -r @swc-node/register bench/audit/replay.bench.ts [--events 100000] [--inventory-scale 1]
// 1. the worked-example projection (one row update per event), with its batch fast path;
// 2. inventory's fleet projection after importing a generated Colossus-shaped fleet (chunky events:
//    one NodesCommissioned carries a rack's nodes and GPUs), so GPU rows/s is printed too.
import 'reflect-metadata';
import { newEvent } from '@fleetledger/contracts';
import { EventStore, rebuildProjection, runInTransaction } from '@fleetledger/eventstore';
import {
  AccountOpened,
  accountsProjection,
  DepositMade,
  exampleRegistry,
  exampleService,
  TestDatabase,
} from '@fleetledger/testing';
import { generateColossusFleet } from '../../apps/inventory/src/domain/colossus-generator';
import { countGpus } from '../../apps/inventory/src/domain/fleet-description';
import { InventoryCommandHandler } from '../../apps/inventory/src/handlers/inventory-command.handler';
import { importFleet } from '../../apps/inventory/src/import/fleet-import';
import { inventoryService } from '../../apps/inventory/src/inventory.options';

const arg = process.argv.indexOf('--events');
const N = arg > 0 ? Number(process.argv[arg + 1]) : 100_000;
const scaleArg = process.argv.indexOf('--inventory-scale');
const INVENTORY_SCALE = scaleArg > 0 ? Number(process.argv[scaleArg + 1]) : 1;

async function inventoryReplay() {
  const db = await TestDatabase.create('fl_bench_replay_inv');
  const dataSource = await db.dataSource(inventoryService.migrations, 4);
  try {
    const store = new EventStore(inventoryService.schema, inventoryService.registry);
    const handler = new InventoryCommandHandler(dataSource, store, 'bench.inventory.events.v1');
    const fleet = generateColossusFleet({ seed: 42, scale: INVENTORY_SCALE });
    await importFleet(
      handler,
      fleet,
      { correlationId: 'bench', occurredAt: '2026-11-01T00:00:00Z' },
      { batchSize: 250 },
    );
    const [projection] = inventoryService.projections!;
    const t = Date.now();
    const result = await rebuildProjection(dataSource, store, projection, {
      targetSchema: 'inventory_replay',
      batchSize: 500,
    });
    const seconds = (Date.now() - t) / 1000;
    process.stdout.write(
      `inventory fleet: replayed ${result.eventsApplied} events (${countGpus(fleet)} GPUs) in ${seconds.toFixed(1)} s: ` +
        `${Math.round(result.eventsApplied / seconds)} events/s, ${Math.round(countGpus(fleet) / seconds)} GPU rows/s\n`,
    );
  } finally {
    await dataSource.destroy();
    await db.drop();
  }
}

async function main() {
  process.env.TEST_ADMIN_DATABASE_URL ??=
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = await TestDatabase.create('fl_bench_replay');
  const dataSource = await db.dataSource(exampleService.migrations, 4);
  const store = new EventStore('example', exampleRegistry);
  try {
    let t = Date.now();
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
    for (let done = accounts; done < N; done += 2000) {
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
    const total = await store.headPosition(dataSource);
    process.stdout.write(`seeded ${total} events in ${Date.now() - t} ms\n`);

    t = Date.now();
    const result = await rebuildProjection(dataSource, store, accountsProjection, { batchSize: 5000 });
    const ms = Date.now() - t;
    process.stdout.write(
      `replayed ${result.eventsApplied} events in ${ms} ms: ${Math.round(result.eventsApplied / (ms / 1000))} events/s\n`,
    );
    process.stdout.write(
      `projected time for 10 M events at this rate: ${Math.round(10_000_000 / (result.eventsApplied / (ms / 1000)) / 60)} min\n`,
    );
  } finally {
    await dataSource.destroy();
    await db.drop();
  }
  await inventoryReplay();
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
