// Inventory benchmark, on the real PostgreSQL (DATABASE_URL, default the local server) in a fresh database:
//   1. import of the full generated Colossus-1 fleet (~220,000 GPUs) in batches  (target < 60 s)
//   2. the same import again (idempotent: must append nothing)
//   3. capacity-per-class query latency on that fleet                             (target p99 < 50 ms)
//   4. with KAFKA_BROKERS set: publishing the import's outbox to Kafka
// Prints figures; asserts nothing.
//   node -r @swc-node/register bench/inventory/import.bench.ts [--scale 1] [--batch-size 250] [--queries 1000]
import 'reflect-metadata';
import { Topics, topicName, servicePrincipal } from '@fleetledger/contracts';
import {
  createIdempotentProducer,
  createKafka,
  kafkaSettingsFromEnv,
  EventStore,
  OutboxRelay,
} from '@fleetledger/eventstore';
import { ensureTopics } from '@fleetledger/eventstore/kafka-admin';
import { createServiceApp, startService } from '@fleetledger/platform';
import { TestDatabase } from '@fleetledger/testing';
import { generateColossusFleet } from '../../apps/inventory/src/domain/colossus-generator';
import { countGpus } from '../../apps/inventory/src/domain/fleet-description';
import { InventoryCommandHandler } from '../../apps/inventory/src/handlers/inventory-command.handler';
import { importFleet } from '../../apps/inventory/src/import/fleet-import';
import { InventoryModule } from '../../apps/inventory/src/inventory.module';
import { inventoryService } from '../../apps/inventory/src/inventory.options';
import { FleetQueries } from '../../apps/inventory/src/queries/fleet-queries';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function line(label: string, value: string) {
  process.stdout.write(`${label.padEnd(52)} ${value}\n`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const scale = arg('scale', 1);
  const batchSize = arg('batch-size', 250);
  const queries = arg('queries', 1000);
  process.env.TEST_ADMIN_DATABASE_URL ??=
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = await TestDatabase.create('fl_inventory_bench');
  const dataSource = await db.dataSource(inventoryService.migrations, 10);
  const prefix = `bench${Date.now().toString(36)}.`;
  const topic = topicName(Topics.inventoryEvents, prefix);
  const handler = new InventoryCommandHandler(
    dataSource,
    new EventStore(inventoryService.schema, inventoryService.registry, {
      principal: () => servicePrincipal('bench'),
    }),
    topic,
  );
  const context = { correlationId: 'bench', occurredAt: '2026-11-01T00:00:00Z' };
  try {
    let t = performance.now();
    const fleet = generateColossusFleet({ seed: 42, scale });
    line(
      'generate fleet',
      `${(performance.now() - t).toFixed(0)} ms  (${fleet.halls.length} halls, ${fleet.racks.length} racks, ${countGpus(fleet)} GPUs)`,
    );

    t = performance.now();
    const first = await importFleet(handler, fleet, context, { batchSize });
    const importMs = performance.now() - t;
    line(
      `import, batches of ${batchSize} commands`,
      `${(importMs / 1000).toFixed(2)} s  (${first.eventsAppended} events, ${first.rejected} refused, ${Math.round(first.gpusInFile / (importMs / 1000))} GPUs/s)  target < 60 s`,
    );

    t = performance.now();
    const again = await importFleet(handler, fleet, context, { batchSize });
    line(
      're-import of the same fleet',
      `${((performance.now() - t) / 1000).toFixed(2)} s  (${again.eventsAppended} events appended, ${again.rejected} refused)`,
    );

    const fleetQueries = new FleetQueries(dataSource, inventoryService.schema);
    const capacity = await fleetQueries.capacityByClass();
    line('capacity per class', capacity.map((c) => `${c.gpuClass} ${c.available}/${c.total}`).join(', '));
    for (let i = 0; i < 50; i++) await fleetQueries.capacityByClass(); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < queries; i++) {
      const q = performance.now();
      await fleetQueries.capacityByClass();
      samples.push(performance.now() - q);
    }
    samples.sort((a, b) => a - b);
    line(
      `capacity query, ${queries} runs`,
      `p50 ${percentile(samples, 50).toFixed(2)} ms  p99 ${percentile(samples, 99).toFixed(2)} ms  max ${samples[samples.length - 1].toFixed(2)} ms  target p99 < 50 ms`,
    );
    const power = await fleetQueries.siteHeadroom();
    line(
      'site power',
      power
        .map((p) => `${p.id}: draw ${(p.drawW / 1e6).toFixed(1)} MW of ${(p.budgetW / 1e6).toFixed(0)} MW`)
        .join(', '),
    );

    const [sizes] = await dataSource.query(
      `SELECT max(octet_length(message::text)) AS max, avg(octet_length(message::text))::int AS avg FROM inventory.outbox`,
    );
    line('outbox message size', `avg ${sizes.avg} B, max ${sizes.max} B`);

    if (process.env.KAFKA_BROKERS) {
      // KAFKA_SASL_* (optional): a user that may create and delete the bench topic, e.g. admin.
      const kafka = createKafka(kafkaSettingsFromEnv('inventory-bench'));
      await ensureTopics(kafka, [topic]);
      const producer = createIdempotentProducer(kafka);
      await producer.connect();
      try {
        // 100 rows per send: at the relay's default of 500, a batch of NodesCommissioned events (up to
        // ~9 kB each) exceeds the broker's default 1 MB record-batch limit (see bench/inventory/README.md).
        const relayBatch = arg('relay-batch', 100);
        const relay = new OutboxRelay(dataSource, producer, {
          schema: inventoryService.schema,
          batchSize: relayBatch,
        });
        t = performance.now();
        const published = await relay.drain();
        line(
          `outbox relay to Kafka, ${relayBatch} rows per send`,
          `${((performance.now() - t) / 1000).toFixed(2)} s  (${published} events)`,
        );
      } finally {
        await producer.disconnect();
        const admin = kafka.admin();
        await admin.connect();
        await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
        await admin.disconnect();
      }
      await measureHttpCapacity(db.url, prefix, queries);
    } else {
      line('outbox relay to Kafka, GET /capacity over HTTP', 'skipped (KAFKA_BROKERS not set)');
    }
  } finally {
    await dataSource.destroy();
    await db.drop();
  }
}

/** The same query through the service as a client sees it: Nest app, HTTP, JSON. */
async function measureHttpCapacity(databaseUrl: string, prefix: string, queries: number) {
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl,
    KAFKA_TOPIC_PREFIX: prefix,
    MIGRATIONS_RUN: 'false',
    OUTBOX_RELAY: 'false',
    CONSUMERS: 'false',
    LOG_LEVEL: 'warn',
  });
  const app = await createServiceApp(InventoryModule, inventoryService);
  await startService(app, 0);
  try {
    const url = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/capacity`;
    for (let i = 0; i < 50; i++) await (await fetch(url)).json();
    const samples: number[] = [];
    for (let i = 0; i < queries; i++) {
      const q = performance.now();
      const response = await fetch(url);
      await response.json();
      samples.push(performance.now() - q);
    }
    samples.sort((a, b) => a - b);
    line(
      `GET /capacity over HTTP, ${queries} requests`,
      `p50 ${percentile(samples, 50).toFixed(2)} ms  p99 ${percentile(samples, 99).toFixed(2)} ms  max ${samples[samples.length - 1].toFixed(2)} ms  target p99 < 50 ms`,
    );
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
