import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { deadLetterTopic, Topics } from '@fleetledger/contracts';
import { TelemetrySample } from '@fleetledger/contracts/metering';
import { DeadLetter, RawBatch, RawBatchResult } from '@fleetledger/eventstore';
import { Messaging, Metrics } from '@fleetledger/platform';
import { KafkaMessage } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import { METERING_ENV, MeteringEnv } from '../metering.config';
import { SampleIngestor } from '../ingestion/sample-ingestor';
import { parseTelemetryRecord } from '../ingestion/sample-parsing';

export const TELEMETRY_CONSUMER = 'metering-telemetry';

/**
 * The high-volume path: raw samples from `metering.telemetry.v1` (keyed by node; one sample or a
 * node report per record), a whole Kafka batch per Postgres transaction, on libs/eventstore's consumer
 * in raw/bulk mode (`registerRawConsumer`): no inbox row per sample, the sample-id key makes a
 * redelivered batch change nothing. This class parses and ingests a batch and says which records it
 * refused and why; the framework then writes them to metering.dead_letters and `<topic>.dlq` and
 * commits the offset, so a crash anywhere redelivers the batch.
 */
@Injectable()
export class TelemetryConsumer implements OnModuleInit {
  private readonly logger = new Logger(TelemetryConsumer.name);
  private readonly samplesTotal: Counter<'outcome'>;
  private readonly lagSeconds: Histogram;
  /** Set by benchmarks: per sample, wall-clock ms from produce to commit, and the samples committed. */
  onCommitted?: (lagsMs: number[], samples: readonly TelemetrySample[]) => void;

  constructor(
    @Inject(METERING_ENV) private readonly meteringEnv: MeteringEnv,
    private readonly messaging: Messaging,
    private readonly ingestor: SampleIngestor,
    metrics: Metrics,
  ) {
    const registers = [metrics.registry];
    this.samplesTotal = new Counter({
      name: 'fleetledger_metering_samples_total',
      help: 'Telemetry samples by outcome (accepted, duplicate, unattributed, dead-lettered)',
      labelNames: ['outcome'],
      registers,
    });
    this.lagSeconds = new Histogram({
      name: 'fleetledger_metering_ingest_lag_seconds',
      help: 'Kafka record timestamp to usage window updated (commit)',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
  }

  onModuleInit(): void {
    this.messaging.registerRawConsumer({
      name: TELEMETRY_CONSUMER,
      topics: [Topics.meteringTelemetry],
      // Large fetches that wait a little to fill: fewer, bigger transactions (apps/metering/README.md).
      maxBytesPerPartition: 10 * 1024 * 1024,
      maxBytes: 40 * 1024 * 1024,
      maxWaitTimeInMs: 100,
      partitionsConsumedConcurrently: this.meteringEnv.METERING_TELEMETRY_CONCURRENCY,
      handleRaw: (batch) => this.ingestBatch(batch),
    });
  }

  /** Parses a batch's records, stores the valid samples (one transaction), and lists the refused records. */
  async ingestBatch({ topic, partition, messages }: RawBatch): Promise<RawBatchResult> {
    const samples: TelemetrySample[] = [];
    const sampleMessages: KafkaMessage[] = [];
    const letters: DeadLetter[] = [];
    for (const message of messages) {
      const parsed = parseTelemetryRecord(message.value);
      for (const sample of parsed.samples) {
        samples.push(sample);
        sampleMessages.push(message);
      }
      if (parsed.problem) letters.push({ topic, partition, message, ...parsed.problem });
    }
    let accepted = 0;
    if (samples.length > 0) {
      const result = await this.ingestor.ingest(samples, 'kafka');
      // One letter per record (a node report may hold several refused samples).
      for (const [message, index] of new Map(result.beyondRetention.map((i) => [sampleMessages[i], i])))
        letters.push({
          topic,
          partition,
          message,
          reason: 'beyond-retention',
          detail: `the day of ${samples[index].sampledAt} is archived: the sample cannot be deduplicated against it`,
        });
      const now = Date.now();
      const lags = sampleMessages.map((m) => now - Number(m.timestamp));
      for (const lag of lags) this.lagSeconds.observe(lag / 1000);
      this.onCommitted?.(lags, samples);
      this.samplesTotal.inc({ outcome: 'accepted' }, result.accepted);
      this.samplesTotal.inc({ outcome: 'duplicate' }, result.duplicates);
      this.samplesTotal.inc({ outcome: 'unattributed' }, result.unattributed);
      accepted = result.accepted;
    }
    if (letters.length > 0) {
      this.samplesTotal.inc({ outcome: 'dead-lettered' }, letters.length);
      this.logger.warn(
        `${letters.length} samples to ${deadLetterTopic(topic)} (${letters[0].reason}: ${letters[0].detail})`,
      );
    }
    return { processed: accepted, deadLetters: letters };
  }
}
