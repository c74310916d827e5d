/**
 * The ingestion path without Kafka: parse + attribute + dedup + window sums into Postgres, to see
 * what one service process can do before the broker is involved.
 *
 *   node -r @swc-node/register bench/metering/ingest-path.bench.ts [--ticks 4] [--nodes 10000] [--concurrency 3]
 */
import 'reflect-metadata';
import { Command } from 'commander';
import { startTestService, useLocalKafkaCredentials } from '@fleetledger/testing';
import { generateFleet, NodeAgentSimulator } from '../../apps/metering/src/domain/node-agent-simulator';
import { SampleIngestor } from '../../apps/metering/src/ingestion/sample-ingestor';
import { parseTelemetryRecord } from '../../apps/metering/src/ingestion/sample-parsing';
import { PlacementsHandler } from '../../apps/metering/src/placements/placements.handler';
import { demoPlacements } from '../../apps/metering/src/domain/node-agent-simulator';
import { allocation } from '@fleetledger/contracts';
import { DataSource } from 'typeorm';
import { runInTransaction } from '@fleetledger/eventstore';
import { TelemetrySample } from '@fleetledger/contracts/metering';

const options = new Command()
  .option('--ticks <n>', 'reporting instants', '4')
  .option('--nodes <n>', 'nodes in the fleet', '10000')
  .option('--concurrency <n>', 'batches in flight', '3')
  .parse()
  .opts<{ ticks: string; nodes: string; concurrency: string }>();

async function main() {
  process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
  useLocalKafkaCredentials();
  const service = await startTestService(
    (await import('../../apps/metering/src/metering.module')).MeteringModule,
    (await import('../../apps/metering/src/metering.options')).meteringService,
    {
      env: { LOG_LEVEL: 'warn', METERING_CLOSE_INTERVAL_MS: '0', CONSUMERS: 'false', OUTBOX_RELAY: 'false' },
    },
  );
  const startMs = Date.now();
  const fleet = generateFleet({ seed: 1, nodes: Number(options.nodes) });
  const placements = service.app.get(PlacementsHandler);
  await runInTransaction(service.app.get(DataSource), async (tx) => {
    for (const [i, p] of demoPlacements(fleet, {
      leases: 20,
      share: 0.9,
      gpusPerPlacement: 512,
      placedAtMs: startMs - 60_000,
    }).entries()) {
      await placements.handle(
        {
          eventId: `e${i}`,
          type: allocation.WorkloadPlaced.type,
          schemaVersion: 1,
          streamId: 's',
          streamVersion: i + 1,
          globalPosition: i + 1,
          occurredAt: p.placedAt,
          recordedAt: p.placedAt,
          correlationId: 'bench',
          payload: { ...p, workloadClass: 'training', rackIds: ['r'], priority: 1, borrowed: false },
        },
        tx,
      );
    }
  });
  const simulator = new NodeAgentSimulator(fleet, { seed: 1, startMs });
  // One record per node (a node report), about 5,000 samples per batch, as the consumer gets them.
  const records: Buffer[][] = [];
  for (let t = 0; t < Number(options.ticks); t++) {
    const all = simulator.nextTick().byNode.map((n) => Buffer.from(JSON.stringify(n.samples)));
    for (let i = 0; i < all.length; i += 700) records.push(all.slice(i, i + 700));
  }

  let t0 = performance.now();
  const batches: TelemetrySample[][] = records.map((batch) =>
    batch.flatMap((value) => {
      const parsed = parseTelemetryRecord(value);
      if (parsed.problem) throw new Error(parsed.problem.detail);
      return parsed.samples;
    }),
  );
  const total = batches.reduce((n, b) => n + b.length, 0);
  const parseRate = total / ((performance.now() - t0) / 1000);

  const ingestor = service.app.get(SampleIngestor);
  t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < batches.length) await ingestor.ingest(batches[next++], 'kafka');
  };
  await Promise.all(Array.from({ length: Number(options.concurrency) }, worker));
  const ingestRate = total / ((performance.now() - t0) / 1000);
  console.log(
    `ingest path: ${total} samples (node reports) in batches of ~${Math.round(total / batches.length)}, concurrency ${options.concurrency}`,
  );
  console.log(`  parse + validate: ${Math.round(parseRate)} samples/s`);
  console.log(`  attribute + dedup + window sums (Postgres): ${Math.round(ingestRate)} samples/s`);
  await service.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
