import { Controller, Get, Header, Inject, Injectable } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SkipThrottle } from '@nestjs/throttler';
import { Public } from './auth/access.decorator';
import { SERVICE_OPTIONS } from './tokens';
import type { ServiceOptions } from './service-options';

/** The Prometheus series every service exposes on GET /metrics. Services add their own through `registry`. */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  readonly eventsAppended: Counter<'type'>;
  readonly eventsPublished: Counter;
  readonly eventsConsumed: Counter<'consumer'>;
  readonly deadLetters: Counter<'consumer' | 'reason'>;
  readonly outboxPending: Gauge;
  readonly consumerLag: Gauge<'consumer' | 'topic' | 'partition'>;
  readonly commandDuration: Histogram<'command' | 'outcome'>;
  /** Issue #22: how far each input (or the service's own output, input="own") is complete. */
  readonly watermark: Gauge<'input'>;
  readonly watermarkLag: Gauge<'input'>;

  constructor(@Inject(SERVICE_OPTIONS) options: ServiceOptions) {
    this.registry.setDefaultLabels({ service: options.service });
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.eventsAppended = new Counter({
      name: 'fleetledger_events_appended_total',
      help: 'Events appended to the event store',
      labelNames: ['type'],
      registers,
    });
    this.eventsPublished = new Counter({
      name: 'fleetledger_events_published_total',
      help: 'Outbox rows published to Kafka',
      registers,
    });
    this.eventsConsumed = new Counter({
      name: 'fleetledger_events_consumed_total',
      help: 'Consumed events applied (redeliveries excluded)',
      labelNames: ['consumer'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'fleetledger_dead_letters_total',
      help: 'Records moved to a dead-letter topic',
      labelNames: ['consumer', 'reason'],
      registers,
    });
    this.outboxPending = new Gauge({
      name: 'fleetledger_outbox_pending',
      help: 'Outbox rows not yet published',
      registers,
    });
    this.consumerLag = new Gauge({
      name: 'fleetledger_consumer_lag',
      help: 'Messages behind the partition end, per consumer',
      labelNames: ['consumer', 'topic', 'partition'],
      registers,
    });
    this.commandDuration = new Histogram({
      name: 'fleetledger_command_duration_seconds',
      help: 'Command handling time (decide + append), by command and outcome',
      labelNames: ['command', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.watermark = new Gauge({
      name: 'fleetledger_watermark_timestamp_seconds',
      help: 'Watermark of an input (input="own": what this service published): everything before it is complete',
      labelNames: ['input'],
      registers,
    });
    this.watermarkLag = new Gauge({
      name: 'fleetledger_watermark_lag_seconds',
      help: 'Wall clock minus the watermark of an input (input="own": of what this service published)',
      labelNames: ['input'],
      registers,
    });
  }
}

@ApiExcludeController()
@Public()
@SkipThrottle()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
