import { Controller, Get, Inject, Injectable } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { Kafka } from 'kafkajs';
import { Public } from './auth/access.decorator';
import type { ServiceEnv } from './config';
import { Messaging } from './messaging';
import { KAFKA, SERVICE_ENV } from './tokens';

@Injectable()
export class KafkaHealthIndicator {
  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async isHealthy(key = 'kafka', timeoutMs = 3000) {
    const indicator = this.indicators.check(key);
    const admin = this.kafka.admin();
    try {
      await withTimeout(admin.connect(), timeoutMs);
      const cluster = await withTimeout(admin.describeCluster(), timeoutMs);
      return indicator.up({ brokers: cluster.brokers.length });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)),
  ]);
}

/** Consumer lag per consumer (records behind, summed over partitions); down above CONSUMER_LAG_READY_MAX. */
@Injectable()
export class ConsumerLagHealthIndicator {
  constructor(
    private readonly messaging: Messaging,
    private readonly indicators: HealthIndicatorService,
    @Inject(SERVICE_ENV) private readonly env: ServiceEnv,
  ) {}

  async isHealthy(key = 'consumer-lag') {
    const indicator = this.indicators.check(key);
    try {
      const lagByConsumer: Record<string, number> = {};
      for (const { consumer, lag } of await this.messaging.consumerLag())
        lagByConsumer[consumer] = (lagByConsumer[consumer] ?? 0) + lag;
      const limit = this.env.CONSUMER_LAG_READY_MAX;
      const behind = Object.entries(lagByConsumer).filter(([, lag]) => limit > 0 && lag > limit);
      return behind.length > 0
        ? indicator.down({ lag: lagByConsumer, limit })
        : indicator.up({ lag: lagByConsumer });
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}

/** GET /health/live: the process answers. GET /health/ready: Postgres and Kafka answer too. */
@ApiTags('health')
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly kafka: KafkaHealthIndicator,
    private readonly consumerLag: ConsumerLagHealthIndicator,
  ) {}

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.database.pingCheck('postgres', { timeout: 3000 }),
      () => this.kafka.isHealthy(),
      () => this.consumerLag.isHealthy(),
    ]);
  }
}
