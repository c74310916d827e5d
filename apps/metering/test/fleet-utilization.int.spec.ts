import { EventEnvelope, inventory, Topics, topicName } from '@fleetledger/contracts';
import { compareProjection, EventStore, rebuildProjection } from '@fleetledger/eventstore';
import { api, startTestService, TestService, topicOwnersProducer, waitUntil } from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import { DataSource } from 'typeorm';
import { MeteringModule } from '../src/metering.module';
import { meteringService } from '../src/metering.options';
import { fleetProjection } from '../src/projections/fleet.projection';
import { placed, released } from './fixtures';

const at = (hhmm: string) => `2026-03-01T${hhmm}:00.000Z`;
const RACK = 'col1-h01-r001';
const node = (n: number) => `${RACK}-n0${n}`;
const gpusOf = (n: number) => Array.from({ length: 8 }, (_, g) => `${node(n)}-g${g}`);
let version = 0;

/** An inventory event as inventory's outbox publishes it (one stream per rack). */
function inventoryEvent(type: string, payload: Record<string, unknown>, occurredAt: string): EventEnvelope {
  version += 1;
  return {
    eventId: uuidv7(),
    type,
    schemaVersion: 1,
    streamId: inventory.inventoryStreams.rack(RACK),
    streamVersion: version,
    globalPosition: version,
    occurredAt,
    recordedAt: occurredAt,
    correlationId: `fleet-${version}`,
    payload,
  };
}

describe('utilization against the fleet: allocated / healthy GPUs by class and hour', () => {
  let service: TestService;
  let producer: Producer;
  let db: DataSource;
  const send = (topic: string, envelopes: EventEnvelope[]) =>
    producer.send({
      topic: topicName(topic, service.topicPrefix),
      acks: -1,
      messages: envelopes.map((e) => ({ key: e.streamId, value: JSON.stringify(e) })),
    });

  const base = { rackId: RACK, hallId: 'col1-h01', gpuClass: 'H100' };
  const commissioned = inventoryEvent(
    inventory.NodesCommissioned.type,
    {
      ...base,
      siteId: 'col1',
      rackDrawW: 20400,
      nodes: [1, 2].map((n) => ({
        nodeId: node(n),
        nominalPowerW: 10200,
        gpus: gpusOf(n).map((gpuId) => ({
          gpuId,
          memoryGb: 80,
          nvlinkDomain: `${node(n)}-nvl`,
          health: 'healthy',
        })),
      })),
    },
    at('00:00'),
  );
  const drained = inventoryEvent(
    inventory.NodeDrainStarted.type,
    { ...base, nodeId: node(2), gpuIds: gpusOf(2), reason: 'firmware' },
    at('00:30'),
  );
  const undrained = inventoryEvent(
    inventory.NodeUndrained.type,
    {
      ...base,
      nodeId: node(2),
      gpus: gpusOf(2).map((gpuId) => ({ gpuId, nodeId: node(2), health: 'healthy' })),
      reason: 'done',
    },
    at('01:00'),
  );
  const failed = inventoryEvent(
    inventory.GpuHealthChanged.type,
    {
      ...base,
      gpuId: gpusOf(1)[0],
      nodeId: node(1),
      from: 'healthy',
      to: 'failed',
      health: 'failed',
      reason: 'xid 79',
    },
    at('01:30'),
  );
  const budget = inventoryEvent(
    inventory.PowerBudgetChanged.type,
    {
      scope: 'rack',
      scopeId: RACK,
      siteId: 'col1',
      hallId: 'col1-h01',
      fromW: 45000,
      toW: 40000,
      reason: 'cooling',
    },
    at('01:40'),
  );

  beforeAll(async () => {
    service = await startTestService(MeteringModule, meteringService, {
      env: { METERING_CLOSE_INTERVAL_MS: '0', METERING_LATENESS_MS: String(5 * 60_000) },
    });
    db = service.app.get(DataSource);
    producer = topicOwnersProducer(service.topicPrefix);
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await service?.stop();
  });

  it('learns healthy and in-service GPUs from inventory events, once each even when redelivered', async () => {
    // The drain is delivered twice; a last event on the same stream (same partition) marks the end.
    const marker = inventoryEvent(
      inventory.PowerBudgetChanged.type,
      { ...(budget.payload as Record<string, unknown>), toW: 41000 },
      at('01:50'),
    );
    await send(Topics.inventoryEvents, [commissioned, drained, undrained, failed, budget, drained, marker]);
    await waitUntil(
      async () =>
        (await db.query(`SELECT 1 FROM metering.inbox WHERE consumer = 'metering-fleet'`)).length === 6,
      30_000,
      'inventory events taken in',
    );
    const changes = await db.query(
      `SELECT to_char(at AT TIME ZONE 'UTC', 'HH24:MI') AS at, healthy_delta::int AS healthy, in_service_delta::int AS in_service
         FROM metering.fleet_class_changes WHERE gpu_class = 'H100' ORDER BY at`,
    );
    expect(changes).toEqual([
      { at: '00:00', healthy: 16, in_service: 16 },
      { at: '00:30', healthy: -8, in_service: 0 },
      { at: '01:00', healthy: 8, in_service: 0 },
      { at: '01:30', healthy: -1, in_service: 0 },
    ]);
  });

  it('serves allocated / healthy fleet per hour next to busy / allocated', async () => {
    const gpus = gpusOf(1);
    await send(Topics.allocationEvents, [
      placed('pU', 'lease-u', 'tenant-u', 'H100', gpus, at('00:00')),
      released('pU', 'lease-u', 'tenant-u', 'H100', gpus, at('01:30')),
    ]);
    await waitUntil(
      async () =>
        (await db.query(`SELECT 1 FROM metering.placements WHERE placement_id = 'pU' AND end_at IS NOT NULL`))
          .length === 1,
      30_000,
      'placement applied',
    );
    await api(service.url)
      .post('/metering/windows/close')
      .send({ asOf: at('02:05') })
      .expect(200);
    const utilization = await api(service.url)
      .get('/metering/utilization')
      .query({ gpuClass: 'H100', from: at('00:00'), to: at('03:00') })
      .expect(200);
    expect(
      utilization.body.map((u: Record<string, unknown>) => [
        u.hourStart,
        u.gpuSecondsAllocated,
        u.gpuSecondsHealthy,
        u.gpuSecondsInService,
        u.allocatedShareOfHealthy,
      ]),
    ).toEqual([
      // 16 healthy, 8 draining from 00:30: 16 x 1800 + 8 x 1800 GPU-s healthy; 8 GPUs allocated all hour.
      [at('00:00'), '28800.000', '43200.000', '57600.000', 0.6667],
      // undrained at 01:00, one GPU failed at 01:30: 16 x 1800 + 15 x 1800; released at 01:30.
      [at('01:00'), '14400.000', '55800.000', '57600.000', 0.2581],
      // Nothing allocated (no usage record), still a healthy fleet: the hour shows 0, not a gap.
      [at('02:00'), '0.000', '54000.000', '57600.000', 0],
    ]);
  });

  it('counts a batch of events as one at a time would: same instant, out of order, no-op, redelivery', async () => {
    const h200 = { rackId: RACK, hallId: 'col1-h01', gpuClass: 'H200' };
    const h200Gpus = Array.from({ length: 4 }, (_, g) => `${node(3)}-g${g}`);
    const health = (gpuId: string, from: string, to: string, when: string) =>
      inventoryEvent(
        inventory.GpuHealthChanged.type,
        { ...h200, gpuId, nodeId: node(3), from, to, health: to, reason: 'test' },
        at(when),
      );
    const commissionedH200 = inventoryEvent(
      inventory.NodesCommissioned.type,
      {
        ...h200,
        siteId: 'col1',
        rackDrawW: 20400,
        nodes: [
          {
            nodeId: node(3),
            nominalPowerW: 10200,
            gpus: h200Gpus.map((gpuId) => ({
              gpuId,
              memoryGb: 141,
              nvlinkDomain: `${node(3)}-nvl`,
              health: 'healthy',
            })),
          },
        ],
      },
      at('02:00'),
    );
    const batch = [
      commissionedH200,
      // Fails and recovers at one instant: a row of zeros, as two single applies leave it.
      health(h200Gpus[0], 'healthy', 'failed', '02:10'),
      health(h200Gpus[0], 'failed', 'healthy', '02:10'),
      // Stamped earlier than the events before it.
      health(h200Gpus[1], 'healthy', 'degraded', '01:50'),
      // Already healthy: moves no count, writes no row.
      health(h200Gpus[2], 'healthy', 'healthy', '02:30'),
    ];
    // The whole batch redelivered (a Kafka retry): the inbox takes each event once.
    await send(Topics.inventoryEvents, [...batch, ...batch]);
    await waitUntil(
      async () =>
        (await db.query(`SELECT 1 FROM metering.inbox WHERE consumer = 'metering-fleet'`)).length === 11,
      30_000,
      'H200 events taken in',
    );
    const changes = await db.query(
      `SELECT to_char(at AT TIME ZONE 'UTC', 'HH24:MI') AS at, healthy_delta::int AS healthy, in_service_delta::int AS in_service
         FROM metering.fleet_class_changes WHERE gpu_class = 'H200' ORDER BY at`,
    );
    expect(changes).toEqual([
      { at: '01:50', healthy: -1, in_service: 0 },
      { at: '02:00', healthy: 4, in_service: 4 },
      { at: '02:10', healthy: 0, in_service: 0 },
    ]);
    const gpus = await db.query(
      `SELECT gpu_id, gpu_class, health FROM metering.fleet_gpus WHERE gpu_id = ANY($1) ORDER BY gpu_id`,
      [h200Gpus],
    );
    expect(gpus.map((g: { health: string }) => g.health)).toEqual([
      'healthy',
      'degraded',
      'healthy',
      'healthy',
    ]);
  });

  it.each([1, 2, 3, 5000])(
    'rebuilds the fleet projection from the inbox, %i events per batch, to exactly the live rows',
    async (batchSize) => {
      // Scratch schemas for the rebuilds: only the administrator may create schemas.
      const admin = await service.db.adminDataSource();
      const rebuilt = await rebuildProjection(admin, service.app.get(EventStore), fleetProjection, {
        targetSchema: `metering_rebuild_fleet_${batchSize}`,
        batchSize,
      });
      const comparisons = await compareProjection(admin, fleetProjection, 'metering', rebuilt.targetSchema);
      expect(comparisons.map((c) => [c.table, c.equal, c.liveRows])).toEqual([
        ['fleet_gpus', true, 20],
        ['fleet_class_changes', true, 7],
      ]);
    },
  );
});
