/**
 * Sustained telemetry ingestion through the real broker into Postgres usage windows.
 *
 *   npm run bench:metering                      # 60 s at 50,000 samples/s
 *   npm run bench:metering -- --minutes 10      # the 10-minute run
 * (`node --max-semi-space-size=32`, as the metering Deployment runs: see apps/metering/README.md)
 * The run's database and topics are deleted at the end, unless --keep.
 *   options: --seconds <n> --rate <samples/s> --concurrency <partitions at once> --keep (keep the database and the topics)
 *
 * The metering service runs in this process (as main.ts wires it, on a fresh database and its own
 * topic prefix); the node-agent simulator runs as a child process and first publishes demo
 * placements for its fleet, so samples are attributed to leases. Prints, every 5 s: samples
 * produced and committed, ingest rate, backlog, lag p99 (Kafka record timestamp -> window update
 * committed), RSS and heap; then a summary and the "every sample accounted for" check.
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { KafkaUsers } from '@fleetledger/contracts';
import { MeteringModule } from '../../apps/metering/src/metering.module';
import { meteringService } from '../../apps/metering/src/metering.options';
import { TelemetryConsumer } from '../../apps/metering/src/api/telemetry.consumer';
import { UsageQueries } from '../../apps/metering/src/queries/usage.queries';
import {
  startTestService,
  testKafka,
  testKafkaCredentials,
  useLocalKafkaCredentials,
} from '@fleetledger/testing';
import { prepareTestAuth } from '@fleetledger/testing/test-auth-setup';
import { DataSource } from 'typeorm';
import { generateFleet } from '../../apps/metering/src/domain/node-agent-simulator';
import { publishDemoPlacements } from '../../apps/metering/src/simulator/telemetry-publisher';

const options = new Command()
  .option('--seconds <n>', 'how long the simulator publishes', '60')
  .option('--minutes <n>', 'overrides --seconds')
  .option('--rate <n>', 'target samples per second', '50000')
  .option('--concurrency <n>', 'telemetry partitions processed at once', '3')
  .option('--keep', 'keep the database and the topics afterwards', false)
  .parse()
  .opts<{ seconds: string; minutes?: string; rate: string; concurrency: string; keep: boolean }>();

const durationS = options.minutes ? Number(options.minutes) * 60 : Number(options.seconds);
const rate = Number(options.rate);

/** Lag histogram with 1 ms buckets up to 10 minutes: exact enough percentiles, constant memory. */
class LagHistogram {
  private readonly buckets = new Uint32Array(600_001);
  count = 0;
  max = 0;
  record(lags: number[]) {
    for (const lag of lags) {
      const ms = Math.max(0, Math.min(600_000, Math.round(lag)));
      this.buckets[ms] += 1;
      this.count += 1;
      if (ms > this.max) this.max = ms;
    }
  }
  percentile(p: number): number {
    const target = Math.ceil(this.count * p);
    let seen = 0;
    for (let ms = 0; ms < this.buckets.length; ms++) {
      seen += this.buckets[ms];
      if (seen >= target && target > 0) return ms;
    }
    return 0;
  }
  reset() {
    this.buckets.fill(0);
    this.count = 0;
    this.max = 0;
  }
}

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

async function main() {
  process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
  useLocalKafkaCredentials();
  // The service under test trusts a throw-away issuer, as in the int tests (jest's global setup makes it there).
  await prepareTestAuth();
  const service = await startTestService(MeteringModule, meteringService, {
    env: {
      LOG_LEVEL: 'warn',
      METERING_CLOSE_INTERVAL_MS: '10000',
      METERING_TELEMETRY_CONCURRENCY: options.concurrency,
      DATABASE_POOL_SIZE: '12',
    },
  });
  const consumer = service.app.get(TelemetryConsumer);
  const overall = new LagHistogram();
  const interval = new LagHistogram();
  let committed = 0;
  let firstCommitAt = 0;
  let lastCommitAt = 0;
  const fromSampleTime = new LagHistogram();
  consumer.onCommitted = (lags, samples) => {
    committed += lags.length;
    lastCommitAt = Date.now();
    if (!firstCommitAt) firstCommitAt = lastCommitAt;
    overall.record(lags);
    interval.record(lags);
    // The simulator stamps a whole pass over the fleet (10 s) with the pass's first instant, so this
    // also counts up to 10 s of the agent's own pacing, not only the pipeline.
    const sampleTimes = new Map<string, number>();
    fromSampleTime.record(
      samples.map((s) => {
        let ms = sampleTimes.get(s.sampledAt);
        if (ms === undefined) sampleTimes.set(s.sampledAt, (ms = Date.parse(s.sampledAt)));
        return lastCommitAt - ms;
      }),
    );
  };

  // Steady state: the fleet's placements are known before telemetry flows (as in production, where
  // placements change far less often than samples arrive). One sample per GPU per 10 s at `rate`.
  const seed = 1;
  const nodes = Math.ceil((rate * 10) / 6.67);
  const fleet = generateFleet({ seed, nodes });
  const producer = testKafka('metering-bench').producer();
  await producer.connect();
  const placed = await publishDemoPlacements(producer, service.topicPrefix, fleet, {
    leases: 20,
    share: 0.9,
    placedAtMs: Date.now() - 60_000,
  });
  await producer.disconnect();
  const db = service.app.get(DataSource);
  const placedStart = Date.now();
  for (;;) {
    const [row] = await db.query(`SELECT count(*)::int AS n FROM metering.placements`);
    if (row.n >= placed) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(
    `simulated fleet: ${fleet.reduce((n, node) => n + node.gpuIds.length, 0)} GPUs on ${nodes} nodes, ${placed} demo placements (consumed in ${Date.now() - placedStart} ms)`,
  );

  let produced = 0;
  let simulatorDone = false;
  const child = spawn(
    process.execPath,
    [
      '--max-semi-space-size=32',
      '-r',
      '@swc-node/register',
      'apps/metering/src/simulator/simulate.command.ts',
      '--rate',
      String(rate),
      '--duration',
      String(durationS),
      '--seed',
      String(seed),
      '--nodes',
      String(nodes),
    ],
    {
      // The simulator publishes as the node agents' Kafka user (the service under test left its own in KAFKA_SASL_*).
      env: {
        ...process.env,
        ...(testKafkaCredentials()?.env(KafkaUsers.telemetry) ?? {}),
        KAFKA_TOPIC_PREFIX: service.topicPrefix,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) {
      try {
        const progress = JSON.parse(line) as { sent?: number };
        if (progress.sent !== undefined) produced = progress.sent;
      } catch {
        /* not a progress line */
      }
    }
  });
  const childExit = new Promise<void>((resolve) =>
    child.on('exit', () => ((simulatorDone = true), resolve())),
  );

  const started = Date.now();
  const rss: number[] = [];
  let lastCommitted = 0;
  console.log(
    `metering ingestion bench: target ${rate} samples/s for ${durationS} s, concurrency ${options.concurrency}`,
  );
  console.log('   t(s)   produced  committed   ingest/s    backlog  lag p99(ms)  rss(MB)  heap(MB)');
  const report = () => {
    const memory = process.memoryUsage();
    rss.push(memory.rss);
    const t = (Date.now() - started) / 1000;
    const perSecond = Math.round((committed - lastCommitted) / 5);
    lastCommitted = committed;
    console.log(
      `${t.toFixed(0).padStart(7)} ${String(produced).padStart(10)} ${String(committed).padStart(10)} ${String(perSecond).padStart(10)} ${String(Math.max(0, produced - committed)).padStart(10)} ${String(interval.percentile(0.99)).padStart(12)} ${String(mb(memory.rss)).padStart(8)} ${String(mb(memory.heapUsed)).padStart(9)}`,
    );
    interval.reset();
  };
  const timer = setInterval(report, 5000);
  await childExit;
  const drainDeadline = Date.now() + 180_000;
  while (committed < produced && Date.now() < drainDeadline) await new Promise((r) => setTimeout(r, 250));
  clearInterval(timer);
  report();

  const pending = await service.app.get(UsageQueries).pending();
  const sustained =
    lastCommitAt > firstCommitAt ? Math.round(committed / ((lastCommitAt - firstCommitAt) / 1000)) : 0;
  console.log('\nsummary');
  console.log(
    `  produced ${produced}, committed ${committed} (${simulatorDone ? 'simulator finished' : 'simulator still running'})`,
  );
  console.log(`  sustained ingest: ${sustained} samples/s (first to last commit), target ${rate}`);
  console.log(
    `  lag (record timestamp -> window update committed): p50 ${overall.percentile(0.5)} ms, p99 ${overall.percentile(0.99)} ms, max ${overall.max} ms`,
  );
  console.log(
    `  lag (sampledAt -> window update committed): p50 ${fromSampleTime.percentile(0.5)} ms, p99 ${fromSampleTime.percentile(0.99)} ms, max ${fromSampleTime.max} ms`,
  );
  console.log(
    `  rss: min ${mb(Math.min(...rss))} MB, max ${mb(Math.max(...rss))} MB, last ${mb(rss[rss.length - 1])} MB`,
  );
  console.log(`  samples: ${JSON.stringify(pending)}`);
  const balanced =
    pending.accepted ===
    pending.rated + pending.awaitingClose + pending.awaitingCorrection + pending.unattributed;
  console.log(`  every accepted sample rated or visibly pending: ${balanced ? 'yes' : 'NO'}`);

  if (options.keep) {
    console.log(`  database kept: ${service.db.name}`);
    await service.app.close();
  } else {
    await service.stop();
    // A 10-minute run leaves ~5 GB of telemetry in the broker: delete the run's topics with its database.
    const admin = testKafka('metering-bench').admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(service.topicPrefix));
    await admin.deleteTopics({ topics });
    await admin.disconnect();
    console.log(`  deleted the run's database and its ${topics.length} topics`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
