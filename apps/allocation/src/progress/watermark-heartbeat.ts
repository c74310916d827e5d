import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { allocation, EventEnvelope, servicePrincipal, Topics } from '@fleetledger/contracts';
import { KAFKA, Messaging, Metrics, runAs } from '@fleetledger/platform';
import { Kafka } from 'kafkajs';
import { partitionStreamIds, topicPartitionCount } from '@fleetledger/eventstore';
import { decideOperatorWatermark, nextWatermark, WatermarkPolicy } from '../domain/watermark';
import { AllocationEngine, RejectedCommand } from '../handlers/allocation-engine';
import { parseWatermarkEnv, WatermarkEnv } from './watermark.config';

export interface PartitionProgress {
  partition: number;
  streamId: string;
}

export interface AllocationProgress {
  topic: string;
  watermark: string | null;
  lagMs: number | null;
  ledgerAt: string | null;
  policy: WatermarkPolicy & { intervalMs: number };
  partitions: PartitionProgress[];
}

/**
 * Publishes allocation's watermark (issue #22, domain/watermark.ts): every tick (at most one marker per
 * partition per ALLOCATION_WATERMARK_INTERVAL_MS), the watermark moves to the later of the ledger's
 * latest decision and (when it follows the clock) the wall clock minus the allowed lag, through the
 * engine's single-writer lane, as one marker per partition of the events topic. The outbox relay
 * publishes them like every other event, so a marker reaches its partition after every event
 * appended before it. The service principal records the heartbeat; an operator's advance records the operator.
 */
@Injectable()
export class WatermarkHeartbeat implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WatermarkHeartbeat.name);
  private readonly env: WatermarkEnv = parseWatermarkEnv(process.env);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private streamIds: string[] = [];

  constructor(
    private readonly engine: AllocationEngine,
    private readonly messaging: Messaging,
    private readonly metrics: Metrics,
    @Inject(KAFKA) private readonly kafka: Kafka,
  ) {}

  get policy(): WatermarkPolicy {
    return {
      followsClock: this.env.ALLOCATION_WATERMARK_FOLLOWS_CLOCK,
      lagMs: this.env.ALLOCATION_WATERMARK_LAG_MS,
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    // Messaging (imported module) has created the topic by now.
    await this.refreshPartitions();
    if (this.env.ALLOCATION_WATERMARK_INTERVAL_MS <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = runAs(servicePrincipal('allocation'), () => this.tick(Date.now()))
        .catch((error: Error) =>
          this.logger.warn(`watermark heartbeat (retried next tick): ${error.message}`),
        )
        .finally(() => (this.running = undefined));
    }, this.env.ALLOCATION_WATERMARK_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One heartbeat: the markers written, or [] when the watermark did not move. */
  async tick(nowMs: number): Promise<EventEnvelope[]> {
    const policy = this.policy;
    try {
      return await this.engine.advanceWatermark(
        `allocation-watermark-${new Date(nowMs).toISOString()}`,
        (state) => nextWatermark(state, nowMs, policy),
        this.streamIds,
      );
    } catch (error) {
      if (error instanceof RejectedCommand && error.rejection.reason === 'unchanged') return [];
      throw error;
    } finally {
      await this.refreshGauges(nowMs);
    }
  }

  /** An operator declares the ledger complete until `to` (the caller's principal is recorded). */
  advanceTo(to: string, correlationId: string, nowMs = Date.now()): Promise<EventEnvelope[]> {
    return this.engine.advanceWatermark(
      correlationId,
      (state) => decideOperatorWatermark(state, to, nowMs),
      this.streamIds,
    );
  }

  async progress(nowMs = Date.now()): Promise<AllocationProgress> {
    const { watermarkAt, ledgerAt } = await this.engine.read((state) => ({
      watermarkAt: state.watermarkAt,
      ledgerAt: state.ledgerAt,
    }));
    return {
      topic: Topics.allocationEvents,
      watermark: watermarkAt || null,
      lagMs: watermarkAt ? nowMs - Date.parse(watermarkAt) : null,
      ledgerAt: ledgerAt || null,
      policy: { ...this.policy, intervalMs: this.env.ALLOCATION_WATERMARK_INTERVAL_MS },
      partitions: this.streamIds.map((streamId, partition) => ({ partition, streamId })),
    };
  }

  private async refreshGauges(nowMs: number): Promise<void> {
    const watermarkAt = await this.engine.read((state) => state.watermarkAt);
    if (!watermarkAt) return;
    this.metrics.watermark.set({ input: 'own' }, Date.parse(watermarkAt) / 1000);
    this.metrics.watermarkLag.set({ input: 'own' }, (nowMs - Date.parse(watermarkAt)) / 1000);
  }

  /** The events topic's partition count, from the broker (a topic can grow; ids follow). */
  private async refreshPartitions(): Promise<void> {
    const partitions = await topicPartitionCount(this.kafka, this.messaging.eventsTopic);
    this.streamIds = partitionStreamIds('allocation', partitions);
  }
}

/** The markers' payloads, for replies. */
export function markersOf(events: readonly EventEnvelope[]): allocation.PartitionWatermarkAdvancedPayload[] {
  return events
    .filter((e) => e.type === allocation.PartitionWatermarkAdvanced.type)
    .map((e) => e.payload as allocation.PartitionWatermarkAdvancedPayload);
}
