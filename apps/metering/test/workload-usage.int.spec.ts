import { EventEnvelope, Topics, topicName } from '@fleetledger/contracts';
import { serviceAudience } from '@fleetledger/platform';
import {
  api,
  httpAs,
  startTestService,
  testKafka,
  TestService,
  testToken,
  waitUntil,
} from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { MeteringModule } from '../src/metering.module';
import { meteringService } from '../src/metering.options';
import { at, placed, released, sample } from './fixtures';

/**
 * Issue #15.8 (metering): usage per workload, interval by interval, on real Kafka and PostgreSQL.
 *   workload w-train (tenant-a, lease-a): placement p1 on gA1 + gA2 from 00:00, released 01:00 (evicted, say);
 *   placed again as p2 on gA3 from 01:30, still running. Samples (0.5 busy, 700 W, 10 s each): gA1 00:10 and
 *   gA2 00:20 (in p1), gA3 01:40 (in p2), gA1 01:10 (after p1 ended: not this workload's).
 */
describe('metering serves usage per workload (issue #15.8)', () => {
  let service: TestService;
  let producer: Producer;
  let dataSource: DataSource;
  const asWorkload = (event: EventEnvelope): EventEnvelope => ({
    ...event,
    payload: { ...(event.payload as Record<string, unknown>), workloadId: 'w-train' },
  });

  beforeAll(async () => {
    service = await startTestService(MeteringModule, meteringService, {
      env: { METERING_CLOSE_INTERVAL_MS: '0', METERING_LATENESS_MS: String(5 * 60_000) },
    });
    dataSource = service.app.get(DataSource);
    producer = testKafka().producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await service?.stop();
  });

  it('lists each interval of a workload with its GPUs, allocated and busy time and energy; a running one up to asOf', async () => {
    const events = [
      asWorkload(placed('p1', 'lease-a', 'tenant-a', 'H100', ['gA1', 'gA2'], at('00:00:00'))),
      asWorkload(released('p1', 'lease-a', 'tenant-a', 'H100', ['gA1', 'gA2'], at('01:00:00'))),
      asWorkload(placed('p2', 'lease-a', 'tenant-a', 'H100', ['gA3'], at('01:30:00'))),
    ];
    await producer.send({
      topic: topicName(Topics.allocationEvents, service.topicPrefix),
      acks: -1,
      messages: events.map((e) => ({ key: e.streamId, value: JSON.stringify(e) })),
    });
    await waitUntil(
      async () =>
        (
          await dataSource.query(
            `SELECT 1 FROM metering.placements WHERE workload_id = 'w-train' AND (placement_id = 'p2' OR end_at IS NOT NULL)`,
          )
        ).length === 2,
      30_000,
      'both placements applied',
    );
    await api(service.url)
      .post('/metering/samples')
      .send({
        samples: [
          sample('s1', 'gA1', at('00:10:00')),
          sample('s2', 'gA2', at('00:20:00')),
          sample('s3', 'gA3', at('01:40:00')),
          sample('s4', 'gA1', at('01:10:00')),
        ],
      })
      .expect(200);

    const usage = (
      await api(service.url)
        .get('/metering/workloads/w-train/usage')
        .query({ asOf: at('02:00:00') })
        .expect(200)
    ).body;
    expect(usage).toMatchObject({
      workloadId: 'w-train',
      tenantId: 'tenant-a',
      leaseId: 'lease-a',
      intervals: [
        {
          placementId: 'p1',
          gpuClass: 'H100',
          gpuCount: 2,
          startAt: at('00:00:00'),
          endAt: at('01:00:00'),
          running: false,
          gpuSecondsAllocated: '7200.000',
          gpuSecondsBusy: '10.000',
          energyWh: '3.889',
          sampleCount: 2,
          eventIds: [events[0].eventId, events[1].eventId],
        },
        {
          placementId: 'p2',
          gpuCount: 1,
          startAt: at('01:30:00'),
          endAt: null,
          running: true,
          gpuSecondsAllocated: '1800.000',
          sampleCount: 1,
        },
      ],
      totals: { gpuSecondsAllocated: '9000.000', gpuSecondsBusy: '15.000', sampleCount: 3 },
    });

    // Without asOf a read takes no wall clock: the running interval's allocated time is not known yet.
    const now = (await api(service.url).get('/metering/workloads/w-train/usage').expect(200)).body;
    expect(now.intervals[1].gpuSecondsAllocated).toBeNull();
    expect(now.totals.gpuSecondsAllocated).toBeNull();
  });

  it('a tenant sees its own workloads only; an unknown workload is 404', async () => {
    const tenantA = httpAs(
      service.url,
      await testToken({ roles: ['tenant'], tenant: 'tenant-a', audience: serviceAudience('metering') }),
    );
    const tenantB = httpAs(
      service.url,
      await testToken({ roles: ['tenant'], tenant: 'tenant-b', audience: serviceAudience('metering') }),
    );
    await tenantA.get('/metering/workloads/w-train/usage').expect(200);
    const refused = await tenantB.get('/metering/workloads/w-train/usage').expect(403);
    expect(refused.body).toMatchObject({ error: 'tenant-mismatch' });
    await api(service.url).get('/metering/workloads/w-unknown/usage').expect(404);
  });

  it('the OpenAPI document describes a sample, not `items: {}`', async () => {
    const document = (await api(service.url).get('/docs/openapi.json').expect(200)).body;
    const batch = Object.values(
      document.components.schemas as Record<string, { properties?: Record<string, unknown> }>,
    ).find((schema) => schema.properties?.samples !== undefined)!;
    expect(batch.properties!.samples).toMatchObject({
      type: 'array',
      items: {
        type: 'object',
        required: expect.arrayContaining([
          'sampleId',
          'gpuId',
          'nodeId',
          'sampledAt',
          'utilization',
          'powerW',
        ]),
        properties: { utilization: { type: 'number', minimum: 0, maximum: 1 } },
      },
    });
    // ...while each item is still validated on its own: one bad item does not refuse the batch
    const mixed = (
      await api(service.url)
        .post('/metering/samples')
        .send({ samples: [sample('s5', 'gA3', at('01:50:00')), { sampleId: 'broken' }] })
        .expect(200)
    ).body;
    expect(mixed).toMatchObject({ accepted: 1, rejected: [{ index: 1 }] });
  });
});
