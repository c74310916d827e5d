import { allocation, EventEnvelope, inventory, topicName, Topics } from '@fleetledger/contracts';
import { Messaging } from '@fleetledger/platform';
import {
  api,
  startTestService,
  testKafka,
  TestService,
  TopicCollector,
  uniqueTopicPrefix,
  waitUntil,
} from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import { fleetEvents, rackId } from './fleet-builder';

void rackId;

/**
 * Issue #15, allocation half: what a new user met, told as user stories through the HTTP API on real
 * Kafka and PostgreSQL. Each story builds its world (tenants of its own), acts, and observes the
 * reply, the event on the topic and the read model.
 */
const prefix = uniqueTopicPrefix();
process.env.KAFKA_TOPIC_PREFIX = prefix;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { AllocationModule } = require('../src/allocation.module') as typeof import('../src/allocation.module');
const { allocationService } =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../src/allocation.options') as typeof import('../src/allocation.options');

const TERM = { start: '2026-01-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' };
const AT = '2026-03-01T00:00:00.000Z';
const at = (minutes: number) => new Date(Date.parse(AT) + minutes * 60_000).toISOString();

describe('issue #15: allocation decisions say why', () => {
  let service: TestService;
  let collector: TopicCollector;
  let producer: Producer;
  let sent = 0;
  let clock = 0;
  /** Monotonic command time: every command of the suite is later than the previous one. */
  const tick = () => at(++clock);
  const publishInventory = async (events: inventory.InventoryEvent[], occurredAt = tick()) => {
    await producer.send({
      topic: topicName(Topics.inventoryEvents, prefix),
      messages: events.map((e) => {
        const n = ++sent;
        const envelope: EventEnvelope = {
          eventId: uuidv7(),
          type: e.type,
          schemaVersion: 1,
          streamId: 'inventory-test',
          streamVersion: n,
          globalPosition: n,
          occurredAt,
          recordedAt: occurredAt,
          correlationId: 'fleet-setup',
          payload: e.payload,
        };
        return { key: 'inventory-test', value: JSON.stringify(envelope) };
      }),
    });
  };
  const post = (path: string, body: object) => api(service.url).post(path).send(body);
  const get = (path: string) => api(service.url).get(path);
  const events = async (predicate: (e: EventEnvelope) => boolean) => {
    await service.app.get(Messaging).flushOutbox();
    const messages = await collector.waitFor((m) => m.some((x) => predicate(x.value as EventEnvelope)));
    return messages.map((m) => m.value as EventEnvelope).filter(predicate);
  };
  const lease = async (
    leaseId: string,
    tenantId: string,
    committedGpus: allocation.CommittedGpus,
    options: { exclusive?: allocation.LeaseScope; term?: allocation.LeaseTerm } = {},
  ) => {
    await post('/leases', {
      leaseId,
      tenantId,
      term: options.term ?? TERM,
      committedGpus,
      exclusivity: options.exclusive ? 'exclusive' : 'shared',
      scope: options.exclusive ?? { hallIds: [], rackIds: [] },
      ratePlanId: 'rp-1',
      author: 'sales',
      at: tick(),
    }).expect(201);
    await post(`/leases/${leaseId}/activate`, { author: 'ops', at: tick() }).expect(201);
  };
  const quota = (
    tenantId: string,
    gpuClass: string,
    workloadClass: string,
    change: object,
    reason = 'initial',
  ) =>
    post(`/quotas/${tenantId}/${gpuClass}/${workloadClass}`, { change, reason, author: 'cap', at: tick() });
  const submit = (
    body: Partial<allocation.PlaceRequest> & { workloadId: string; tenantId: string; gpuCount: number },
  ) =>
    post('/workloads', { workloadClass: 'training', gang: true, priority: 10, requestedAt: tick(), ...body });

  beforeAll(async () => {
    service = await startTestService(AllocationModule, allocationService, { topicPrefix: prefix });
    collector = await new TopicCollector(testKafka()).start([topicName(Topics.allocationEvents, prefix)]);
    producer = testKafka('inventory-fake').producer();
    await producer.connect();
    // Hall 1: two H100 racks (64 GPUs), one H200 rack (32), one GB200 NVL72 rack (72).
    await publishInventory(
      fleetEvents([
        { racks: [{ gpuClass: 'H100' }, { gpuClass: 'H100' }, { gpuClass: 'H200' }, { gpuClass: 'GB200' }] },
      ]),
      AT,
    );
    await waitUntil(
      async () => (await get('/utilization')).body.length === 3,
      60_000,
      'the fleet in the capacity view',
    );
  });

  afterAll(async () => {
    await producer?.disconnect();
    await collector?.stop();
    await service?.stop();
  });

  describe('(2) fallback says why', () => {
    it('serves the default routing policy, and putting it again changes nothing', async () => {
      const policy = await get('/routing-policy').expect(200);
      expect(policy.body).toMatchObject({
        source: 'default',
        routes: { inference: ['GB200', 'H200', 'H100'], agentic: ['H200', 'GB200', 'H100'] },
      });
      const again = await api(service.url)
        .put('/routing-policy')
        .send({ routes: policy.body.routes, reason: 'same', author: 'ops', at: tick() })
        .expect(200);
      expect(again.body).toMatchObject({ changed: false, source: 'default' });
    });

    it('inference lands on H200 when GB200 is full, and the reply, the event and the placement say so', async () => {
      await lease('lease-inf', 'inf', { GB200: 72, H200: 8 });
      // The quota would admit more GB200 work than the fleet has: the GPUs, not the quota, run out.
      await quota('inf', 'GB200', 'inference', { kind: 'set', nominal: 144, borrowLimit: 0 }).expect(201);
      await quota('inf', 'H200', 'inference', { kind: 'set', nominal: 8, borrowLimit: 0 }).expect(201);
      const first = await submit({
        workloadId: 'inf-1',
        tenantId: 'inf',
        workloadClass: 'inference',
        gpuCount: 72,
      });
      expect(first.body).toMatchObject({
        outcome: 'placed',
        gpuClass: 'GB200',
        requestedClass: 'GB200',
        routingReason: 'first choice',
      });
      const second = await submit({
        workloadId: 'inf-2',
        tenantId: 'inf',
        workloadClass: 'inference',
        gpuCount: 8,
      });
      expect(second.body).toMatchObject({ outcome: 'placed', gpuClass: 'H200', requestedClass: 'GB200' });
      expect(second.body.routingReason).toMatch(/^fallback: GB200 full \(0 free GB200 GPUs/);

      const [placed] = await events(
        (e) =>
          e.type === allocation.WorkloadPlaced.type &&
          (e.payload as { workloadId: string }).workloadId === 'inf-2',
      );
      expect((placed.payload as allocation.WorkloadPlacedPayload).routing).toEqual({
        requestedClass: 'GB200',
        reason: second.body.routingReason,
      });
      const rows = (await get('/placements?tenantId=inf').expect(200)).body;
      expect(rows.find((r: { workloadId: string }) => r.workloadId === 'inf-2')).toMatchObject({
        gpuClass: 'H200',
        requestedGpuClass: 'GB200',
        routingReason: second.body.routingReason,
      });
      await post('/workloads/inf-1/release', { requestedAt: tick() }).expect(200);
      await post('/workloads/inf-2/release', { requestedAt: tick() }).expect(200);
    });
  });
});

