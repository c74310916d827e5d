import { Topics, topicName } from '@fleetledger/contracts';
import {
  api,
  startTestService,
  testKafka,
  TestService,
  TopicCollector,
  topicOwnersProducer,
} from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { BillingModule } from '../src/billing.module';
import { billingService } from '../src/billing.options';
import { usdPlan } from './fixtures';
import { inventoryWatermarkEnvelopes, meteringWatermarkEnvelopes } from './envelopes';
import { EventEnvelope } from '@fleetledger/contracts';

export interface BillingWorld {
  service: TestService;
  /** Publishes what other services would (usage, leases, inventory health) onto the service's topics. */
  producer: Producer;
  /** Everything billing publishes, when asked for. */
  collector?: TopicCollector;
  stop(): Promise<void>;
}

/**
 * The billing service on real Kafka and PostgreSQL, with a producer standing in for the other services and,
 * unless told otherwise, the test USD rate plan published (as of 2026-10-01).
 */
export async function startBillingWorld(
  options: {
    collectBillingEvents?: boolean;
    publishUsdPlan?: boolean;
    /**
     * Issue #22: the producer stands in for metering, so it also says how far metering has closed usage
     * (UsageWindowsClosed on every partition). By default a metering fully caught up: every hour before
     * 2100 closed, so drafts are complete once their period has ended and finalizing is about the invoice.
     * null: no marker (drafts cover nothing and finalizing answers 409 period-incomplete).
     */
    meteringClosedBefore?: string | null;
    /** Extra environment for billing (e.g. `BILLING_INVENTORY_WATERMARK: 'required'`). */
    env?: Record<string, string>;
  } = {},
): Promise<BillingWorld> {
  const service = await startTestService(BillingModule, billingService, { env: options.env });
  const producer = topicOwnersProducer(service.topicPrefix);
  await producer.connect();
  const closedBefore =
    options.meteringClosedBefore === undefined ? METERING_CAUGHT_UP : options.meteringClosedBefore;
  if (closedBefore !== null)
    await publishMeteringWatermark(
      producer,
      topicName(Topics.meteringEvents, service.topicPrefix),
      closedBefore,
    );
  const collector = options.collectBillingEvents
    ? await new TopicCollector(testKafka()).start([topicName(Topics.billingEvents, service.topicPrefix)])
    : undefined;
  if (options.publishUsdPlan ?? true)
    await api(service.url)
      .post('/rate-plans')
      .send({ plan: usdPlan(), publishedAt: '2026-10-01T00:00:00.000Z' })
      .expect(201);
  return {
    service,
    producer,
    collector,
    async stop() {
      await producer.disconnect();
      await collector?.stop();
      await service.stop();
    },
  };
}

const METERING_CAUGHT_UP = '2100-01-01T00:00:00.000Z';

/** Metering's progress marker on each partition of its topic (explicit partitions, as its keys would route them). */
export async function publishMeteringWatermark(
  producer: Producer,
  topic: string,
  closedBefore: string,
  partitions = 3,
): Promise<void> {
  await publishPerPartition(producer, topic, meteringWatermarkEnvelopes(closedBefore, partitions));
}

/** Inventory's watermark marker on each partition of its topic (issue #22: SLA credits wait for it). */
export async function publishInventoryWatermark(
  producer: Producer,
  topic: string,
  watermark: string,
  partitions = 3,
): Promise<void> {
  await publishPerPartition(producer, topic, inventoryWatermarkEnvelopes(watermark, partitions));
}

/** One envelope per partition, `envelopes[p]` on partition p. */
async function publishPerPartition(
  producer: Producer,
  topic: string,
  envelopes: readonly EventEnvelope[],
): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: envelopes.map((envelope, partition) => ({
      partition,
      key: envelope.streamId,
      value: JSON.stringify(envelope),
    })),
  });
}
