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
  options: { collectBillingEvents?: boolean; publishUsdPlan?: boolean } = {},
): Promise<BillingWorld> {
  const service = await startTestService(BillingModule, billingService);
  const producer = topicOwnersProducer(service.topicPrefix);
  await producer.connect();
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
