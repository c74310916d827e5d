import { startTestService, TestDatabase, TestService, uniqueTopicPrefix } from '@fleetledger/testing';
import { DataSource } from 'typeorm';

export interface FlowServices {
  db: TestDatabase;
  topicPrefix: string;
  inventory: TestService;
  allocation: TestService;
  metering: TestService;
  billing: TestService;
  /**
   * A DataSource on the shared database as the audit role, for the audit CLI's work and the tests' reads:
   * it reads every service's schema and writes only the `<schema>_replay` schemas.
   */
  dataSource(): DataSource;
  stop(): Promise<void>;
}

/** Metering settings of the flow: no wall-clock closer (the test closes windows as of an instant). */
export const METERING_ENV = { METERING_CLOSE_INTERVAL_MS: '0', METERING_LATENESS_MS: String(5 * 60_000) };

/**
 * Boots the four services in this jest process on ONE database (each in its own schema) and ONE topic
 * prefix, as a deployment would run them. startTestService writes process.env before creating each
 * app, so they start one after the other. Allocation's Kafka request/reply patterns read the prefix
 * when its module loads, so the modules are loaded only after the prefix is set.
 */
export async function startFlowServices(env: Record<string, string> = {}): Promise<FlowServices> {
  const topicPrefix = uniqueTopicPrefix();
  process.env.KAFKA_TOPIC_PREFIX = topicPrefix;
  const db = await TestDatabase.create('fl_e2e');
  const started: TestService[] = [];
  const overrides = { db, topicPrefix, env: { ...METERING_ENV, ...env } };
  try {
    const { InventoryModule } = await import('../../apps/inventory/src/inventory.module');
    const { inventoryService } = await import('../../apps/inventory/src/inventory.options');
    const inventory = await startTestService(InventoryModule, inventoryService, overrides);
    started.push(inventory);

    const { AllocationModule } = await import('../../apps/allocation/src/allocation.module');
    const { allocationService } = await import('../../apps/allocation/src/allocation.options');
    const allocation = await startTestService(AllocationModule, allocationService, overrides);
    started.push(allocation);

    const { MeteringModule } = await import('../../apps/metering/src/metering.module');
    const { meteringService } = await import('../../apps/metering/src/metering.options');
    const metering = await startTestService(MeteringModule, meteringService, overrides);
    started.push(metering);

    const { BillingModule } = await import('../../apps/billing/src/billing.module');
    const { billingService } = await import('../../apps/billing/src/billing.options');
    const billing = await startTestService(BillingModule, billingService, overrides);
    started.push(billing);

    const audit = await new DataSource({
      type: 'postgres',
      url: db.auditUrl,
      extra: { max: 4 },
    }).initialize();
    return {
      db,
      topicPrefix,
      inventory,
      allocation,
      metering,
      billing,
      dataSource: () => audit,
      stop: async () => {
        await audit.destroy();
        await stopAll(started, db);
      },
    };
  } catch (error) {
    await stopAll(started, db);
    throw error;
  }
}

async function stopAll(services: TestService[], db: TestDatabase): Promise<void> {
  // Consumers first (reverse start order), so nobody reads a topic whose producer is gone mid-batch.
  for (const service of [...services].reverse()) {
    await service
      .stop()
      .catch((error: Error) => process.stderr.write(`stopping a service failed: ${error.message}\n`));
  }
  await db.drop();
}
