import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventEnvelope, inventory, servicePrincipal, Topics, watermarkMarkers } from '@fleetledger/contracts';
import {
  EventStore,
  partitionStreamIds,
  Queryable,
  recordEvents,
  runInTransaction,
  topicPartitionCount,
} from '@fleetledger/eventstore';
import { KAFKA, Messaging, Metrics, runAs } from '@fleetledger/platform';
import { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { nextInventoryWatermark } from '../domain/watermark';
import { COMMANDS_LOCK } from '../handlers/inventory-command.handler';
import { parseInventoryWatermarkEnv } from './watermark.config';

/**
 * The marker streams of inventory's events topic (one per partition, libs/eventstore/src/watermark.ts), shared
 * by the heartbeat that appends the markers and the command handler that refuses commands stamped behind them.
 */
export class InventoryWatermarkStreams {
  ids: string[] = [];

  /** The latest watermark inventory published (all partitions advance together), or null. */
  async current(tx: Queryable, schema: string): Promise<number | null> {
    if (this.ids.length === 0) return null;
    // The newest marker (the watermark only moves forward): one index probe on (stream_id, stream_version).
    const [row] = await tx.query<{ at: Date | null }[]>(
      `SELECT occurred_at AS at FROM ${schema}.events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1`,
      [this.ids[0]],
    );
    return row?.at ? row.at.getTime() : null;
  }
}

/**
 * Publishes inventory's watermark (issue #22, domain/watermark.ts): every INVENTORY_WATERMARK_INTERVAL_MS, under
 * the commands lock, one marker per partition at the wall clock minus INVENTORY_WATERMARK_LAG_MS (none when it
 * did not move), as `service:inventory`. The outbox relay publishes them after every event appended before.
 */
@Injectable()
export class InventoryWatermarkHeartbeat implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InventoryWatermarkHeartbeat.name);
  private readonly env = parseInventoryWatermarkEnv(process.env);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly streams: InventoryWatermarkStreams,
    private readonly dataSource: DataSource,
    private readonly store: EventStore,
    private readonly messaging: Messaging,
    private readonly metrics: Metrics,
    @Inject(KAFKA) private readonly kafka: Kafka,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const partitions = await topicPartitionCount(this.kafka, this.messaging.eventsTopic);
    this.streams.ids = partitionStreamIds('inventory', partitions);
    if (this.env.INVENTORY_WATERMARK_INTERVAL_MS <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = runAs(servicePrincipal('inventory'), () => this.tick(Date.now()))
        .catch((error: Error) =>
          this.logger.warn(`watermark heartbeat (retried next tick): ${error.message}`),
        )
        .finally(() => (this.running = undefined));
    }, this.env.INVENTORY_WATERMARK_INTERVAL_MS);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One heartbeat: the markers written, or [] when the watermark did not move. */
  async tick(nowMs: number): Promise<EventEnvelope[]> {
    const schema = this.store.schema;
    const events = await runInTransaction(this.dataSource, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`${schema}:${COMMANDS_LOCK}`]);
      const watermark = nextInventoryWatermark(
        await this.streams.current(tx, schema),
        nowMs,
        this.env.INVENTORY_WATERMARK_LAG_MS,
      );
      if (watermark === null) return [];
      const markers = watermarkMarkers(
        inventory.PartitionWatermarkAdvanced,
        Topics.inventoryEvents,
        { watermark, source: 'heartbeat' },
        this.streams.ids,
      ).map((marker) => ({ ...marker, expectedVersion: 'any' as const }));
      return recordEvents(
        tx,
        { store: this.store, topic: this.messaging.eventsTopic, projections: [] },
        markers,
        { correlationId: `inventory-watermark-${watermark}` },
      );
    });
    const latest = events[0]?.occurredAt;
    if (latest) {
      this.metrics.watermark.set({ input: 'own' }, Date.parse(latest) / 1000);
      this.metrics.watermarkLag.set({ input: 'own' }, (nowMs - Date.parse(latest)) / 1000);
    }
    return events;
  }
}
