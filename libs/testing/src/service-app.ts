import { INestApplication, Type } from '@nestjs/common';
import { createServiceApp, ServiceOptions, startService } from '@fleetledger/platform';
import { TestDatabase } from './test-database';
import { uniqueTopicPrefix } from './kafka-test';
import { testAuthEnv } from './auth';
import { grantTestPrefix, serviceKafkaEnv } from './kafka-auth';

export interface TestService {
  app: INestApplication;
  url: string;
  db: TestDatabase;
  topicPrefix: string;
  stop(): Promise<void>;
}

/**
 * Boots a service exactly as main.ts does (hybrid HTTP + Kafka, migrations, relay, consumers),
 * against a fresh database on the real PostgreSQL and its own topic prefix on the real broker,
 * as its own Kafka user with the ACLs of that prefix (libs/testing/src/kafka-auth.ts).
 */
export async function startTestService(
  module: Type<unknown>,
  options: ServiceOptions,
  overrides: { db?: TestDatabase; topicPrefix?: string; env?: Record<string, string> } = {},
): Promise<TestService> {
  const db = overrides.db ?? (await TestDatabase.create(`fl_${options.service}`));
  const topicPrefix = overrides.topicPrefix ?? uniqueTopicPrefix();
  await grantTestPrefix(topicPrefix);
  Object.assign(process.env, {
    ...serviceKafkaEnv(options.service),
    // The service connects, and migrates, as its own role.
    DATABASE_URL: db.serviceUrl(options.schema),
    KAFKA_TOPIC_PREFIX: topicPrefix,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    NODE_ENV: 'test',
    ...testAuthEnv(options.service),
    // Tests call services many times a second as one caller; the limit itself has its own test.
    RATE_LIMIT_REQUESTS: '1000000',
    // Issue #22: tests tell their stories at fixed instants in the past, so allocation's watermark follows
    // its own decisions (and operators), not the wall clock, and moves only when asked (POST /progress/watermark)
    // unless a test turns the heartbeat on; metering closes on the lateness alone unless a test asks for
    // `METERING_PLACEMENT_WATERMARK: 'required'`. The watermark stories (test/completeness.e2e.spec.ts) do both;
    // the others then see exactly the events their commands made.
    ALLOCATION_WATERMARK_FOLLOWS_CLOCK: 'false',
    ALLOCATION_WATERMARK_INTERVAL_MS: '0',
    METERING_PLACEMENT_WATERMARK: 'ignored',
    // Inventory publishes no watermark and billing does not wait for it (SLA credits) unless the story is about it.
    INVENTORY_WATERMARK_INTERVAL_MS: '0',
    BILLING_INVENTORY_WATERMARK: 'ignored',
    // Drafts are finalized by the tests (POST /invoices/finalize-due for the scheduler's stories), not a timer.
    BILLING_AUTO_FINALIZE_INTERVAL_MS: '0',
    ...overrides.env,
  });
  const app = await createServiceApp(module, options);
  await startService(app, 0);
  const url = await app.getUrl();
  return {
    app,
    url: url.replace('[::1]', '127.0.0.1'),
    db,
    topicPrefix,
    async stop() {
      await app.close();
      if (!overrides.db) await db.drop();
    },
  };
}
