/**
 * The node-agent simulator: a generated fleet reporting GPU telemetry to Kafka at a chosen rate.
 *
 *   node -r @swc-node/register apps/metering/src/simulator/simulate.command.ts --rate 5000 --duration 60
 *
 * Options: --rate <samples/s> --duration <s> --seed <n> --nodes <n> (default: enough GPUs for the
 * rate at one sample per GPU per 10 s) --per-sample (one record per sample; default one node report,
 * the JSON array of a node's samples, per record) --place (first publish demo placements of the fleet to the
 * allocation topic, so samples are attributed to leases) --leases <n> --share <0..1>.
 * Reads KAFKA_BROKERS (default 127.0.0.1:9092), KAFKA_TOPIC_PREFIX and the agent's credentials from
 * KAFKA_SASL_* (user `telemetry`, which may only write the telemetry topic; --place writes allocation's
 * topic, so it needs the `allocation` or `admin` user). Prints one JSON line a second.
 */
import 'reflect-metadata';
import { Command } from 'commander';
import { Topics, topicName } from '@fleetledger/contracts';
import { createKafka, kafkaSettingsFromEnv } from '@fleetledger/eventstore';
import { ensureTopics } from '@fleetledger/eventstore/kafka-admin';
import { generateFleet, NodeAgentSimulator } from '../domain/node-agent-simulator';
import { publishDemoPlacements, publishTelemetry } from './telemetry-publisher';

async function main(): Promise<void> {
  const options = new Command()
    .option('--rate <n>', 'samples per second', '5000')
    .option('--duration <s>', 'seconds to run', '60')
    .option('--seed <n>', 'fleet and readings seed', '1')
    .option('--nodes <n>', 'nodes in the fleet (default: sized for the rate)')
    .option('--place', 'publish demo placements for the fleet first', false)
    .option('--leases <n>', 'leases the demo placements are spread over', '20')
    .option('--share <x>', 'share of each class placed', '0.9')
    .option('--per-sample', 'one record per sample instead of one node report per record', false)
    .parse()
    .opts<{
      rate: string;
      duration: string;
      seed: string;
      nodes?: string;
      place: boolean;
      leases: string;
      share: string;
      perSample: boolean;
    }>();
  const rate = Number(options.rate);
  const seed = Number(options.seed);
  const nodes = options.nodes ? Number(options.nodes) : Math.ceil((rate * 10) / 6.67);
  const prefix = process.env.KAFKA_TOPIC_PREFIX ?? '';
  const kafka = createKafka(kafkaSettingsFromEnv('fleetledger-node-agent-simulator'));
  const fleet = generateFleet({ seed, nodes });
  const simulator = new NodeAgentSimulator(fleet, { seed, startMs: Date.now() });
  // Metering creates its topics at start; a telemetry agent may not create any (only write samples).
  const topics = [topicName(Topics.meteringTelemetry, prefix)];
  if (options.place) topics.push(topicName(Topics.allocationEvents, prefix));
  await ensureTopics(kafka, topics);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  let stopped = false;
  process.on('SIGTERM', () => (stopped = true));
  process.on('SIGINT', () => (stopped = true));
  try {
    if (options.place) {
      const placed = await publishDemoPlacements(producer, prefix, fleet, {
        leases: Number(options.leases),
        share: Number(options.share),
        placedAtMs: Date.now() - 1000,
      });
      process.stdout.write(`${JSON.stringify({ placements: placed, gpus: simulator.gpuCount })}\n`);
    }
    const result = await publishTelemetry({
      producer,
      topicPrefix: prefix,
      simulator,
      rate,
      durationMs: Number(options.duration) * 1000,
      isStopped: () => stopped,
      encoding: options.perSample ? 'sample' : 'node-report',
      onProgress: (p) => process.stdout.write(`${JSON.stringify(p)}\n`),
    });
    process.stdout.write(`${JSON.stringify({ done: true, ...result, gpus: simulator.gpuCount })}\n`);
  } finally {
    await producer.disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
