import { Topics, topicName } from '@fleetledger/contracts';
import { compareProjection, EventStore, rebuildProjection } from '@fleetledger/eventstore';
import { Messaging } from '@fleetledger/platform';
import { api, startTestService, testKafka, TestService, TopicCollector } from '@fleetledger/testing';
import { DataSource } from 'typeorm';
import { generateColossusFleet } from '../src/domain/colossus-generator';
import { toFleetFile } from '../src/domain/fleet-description';
import { InventoryModule } from '../src/inventory.module';
import { inventoryService } from '../src/inventory.options';
import { fleetProjection } from '../src/projections/fleet.projection';

// A small Colossus-shaped fleet: 11 halls, 13 racks, 576 GPUs (160 H100, 128 H200, 288 GB200).
const fleet = generateColossusFleet({ seed: 7, scale: 0.002 });
const h100Rack = fleet.racks.find((r) => r.gpuClass === 'H100')!;
const gb200Rack = fleet.racks.find((r) => r.gpuClass === 'GB200')!;
const failingGpu = h100Rack.nodes[0].gpus[3].gpuId;

describe('inventory service against real Kafka and PostgreSQL', () => {
  let service: TestService;
  let collector: TopicCollector;
  let dataSource: DataSource;
  let store: EventStore;

  const capacity = async () => {
    const response = await api(service.url).get('/capacity').expect(200);
    return Object.fromEntries(response.body.map((c: { gpuClass: string }) => [c.gpuClass, c]));
  };
  const published = (type: string) => collector.messages.filter((m) => m.headers['event-type'] === type);

  beforeAll(async () => {
    service = await startTestService(InventoryModule, inventoryService);
    collector = await new TopicCollector(testKafka()).start([
      topicName(Topics.inventoryEvents, service.topicPrefix),
    ]);
    dataSource = service.app.get(DataSource);
    store = service.app.get(EventStore);
  });

  afterAll(async () => {
    await collector?.stop();
    await service?.stop();
  });

  it('imports a fleet description: projections count every GPU and events reach the topic keyed by stream', async () => {
    const imported = await api(service.url).post('/fleet/import').send(toFleetFile(fleet)).expect(200);
    expect(imported.body).toMatchObject({
      imported: true,
      gpusInFile: 576,
      rejected: 0,
      eventsAppended: 1 + 11 + 13 + 13,
    });

    const byClass = await capacity();
    expect(byClass.H100).toMatchObject({ total: 160, available: 160, healthy: 160 });
    expect(byClass.H200).toMatchObject({ total: 128, available: 128 });
    expect(byClass.GB200).toMatchObject({ total: 288, available: 288 });

    await service.app.get(Messaging).flushOutbox();
    await collector.waitFor(() => published('inventory.NodesCommissioned').length === 13);
    const gb200 = published('inventory.NodesCommissioned').find(
      (m) => (m.value as { streamId: string }).streamId === `inventory-rack-${gb200Rack.rackId}`,
    );
    expect(gb200?.message.key?.toString()).toBe(`inventory-rack-${gb200Rack.rackId}`);
    const payload = (
      gb200!.value as { payload: { nodes: { gpus: { nvlinkDomain: string; memoryGb: number }[] }[] } }
    ).payload;
    expect(new Set(payload.nodes.flatMap((n) => n.gpus.map((g) => g.nvlinkDomain)))).toEqual(
      new Set([`${gb200Rack.rackId}-nvl72`]),
    );
    expect(payload.nodes.flatMap((n) => n.gpus)).toHaveLength(72);
  });

  it('a second import of the same file appends nothing', async () => {
    const before = await store.headPosition(dataSource);
    const again = await api(service.url).post('/fleet/import').send(toFleetFile(fleet)).expect(200);
    expect(again.body).toMatchObject({ eventsAppended: 0, rejected: 0 });
    expect(await store.headPosition(dataSource)).toBe(before);
  });

  it('a failed GPU leaves available capacity and is published with its place in the fleet', async () => {
    const response = await api(service.url)
      .post(`/gpus/${failingGpu}/health`)
      .send({ health: 'failed', reason: 'xid 79: fell off the bus' })
      .expect(200);
    expect(response.body.events).toHaveLength(1);
    expect((await capacity()).H100).toMatchObject({ total: 160, available: 159, failed: 1 });
    const gpu = await api(service.url).get(`/gpus/${failingGpu}`).expect(200);
    expect(gpu.body).toMatchObject({ health: 'failed', rackId: h100Rack.rackId, gpuClass: 'H100' });

    await service.app.get(Messaging).flushOutbox();
    const [changed] = await collector
      .waitFor(() => published('inventory.GpuHealthChanged').length === 1)
      .then(() => published('inventory.GpuHealthChanged'));
    expect(changed.value).toMatchObject({
      streamId: `inventory-rack-${h100Rack.rackId}`,
      payload: {
        gpuId: failingGpu,
        rackId: h100Rack.rackId,
        from: 'healthy',
        to: 'failed',
        health: 'failed',
      },
    });
  });

  it('draining a rack takes all its GPUs out of available capacity, and undraining restores them', async () => {
    await api(service.url)
      .post(`/racks/${gb200Rack.rackId}/drain`)
      .send({ reason: 'liquid cooling maintenance' })
      .expect(200);
    expect((await capacity()).GB200).toMatchObject({ available: 216, draining: 72 });
    const racks = await api(service.url).get(`/fleet/halls/${gb200Rack.hallId}/racks`).expect(200);
    expect(racks.body.find((r: { rackId: string }) => r.rackId === gb200Rack.rackId)).toMatchObject({
      draining: 72,
      healthy: 0,
    });

    await service.app.get(Messaging).flushOutbox();
    await collector.waitFor(() => published('inventory.RackDrainStarted').length === 1);
    expect(
      (published('inventory.RackDrainStarted')[0].value as { payload: { gpuIds: string[] } }).payload.gpuIds,
    ).toHaveLength(72);

    await api(service.url).post(`/racks/${gb200Rack.rackId}/undrain`).send({ reason: 'done' }).expect(200);
    expect((await capacity()).GB200).toMatchObject({ available: 288, draining: 0 });
  });

  it.each([
    [
      'a GPU already in another node',
      () => ({
        url: `/racks/${h100Rack.rackId}/nodes`,
        body: {
          nodes: [{ nodeId: `${h100Rack.rackId}-n09`, nominalPowerW: 1000, gpus: h100Rack.nodes[0].gpus }],
        },
      }),
      409,
      'gpu-in-two-nodes',
    ],
    [
      'a health report for an unknown GPU',
      () => ({ url: '/gpus/col1-h99-r001-n01-g0/health', body: { health: 'failed', reason: 'x' } }),
      404,
      'unknown-gpu',
    ],
    [
      'a node over its rack power budget',
      () => ({
        url: `/racks/${h100Rack.rackId}/nodes`,
        body: {
          nodes: [
            {
              nodeId: `${h100Rack.rackId}-n09`,
              nominalPowerW: 10_200,
              gpus: Array.from({ length: 8 }, (_, i) => ({ gpuId: `${h100Rack.rackId}-n09-g${i}` })),
            },
          ],
        },
      }),
      422,
      'rack-power-budget-exceeded',
    ],
    [
      'a rack budget cut below its draw',
      () => ({
        url: '/power-budgets',
        body: { scope: 'rack', scopeId: h100Rack.rackId, budgetW: 1000, reason: 'x' },
      }),
      422,
      'budget-below-draw',
    ],
    [
      'decommissioning a node still in service',
      () => ({ url: `/nodes/${h100Rack.nodes[1].nodeId}/decommission`, body: { reason: 'eol' } }),
      409,
      'node-not-drained',
    ],
    [
      'a malformed body',
      () => ({
        url: '/racks',
        body: { rackId: 'Not An Id', hallId: 'col1-h01', gpuClass: 'A100', powerBudgetW: 1.5 },
      }),
      400,
      'invalid-request',
    ],
  ])('refuses %s with a reason, and writes nothing', async (_name, make, status, error) => {
    const { url, body } = make();
    const before = await store.headPosition(dataSource);
    const response = await api(service.url).post(url).send(body).expect(status);
    expect(response.body.error).toBe(error);
    expect(typeof response.body.message).toBe('string');
    expect(await store.headPosition(dataSource)).toBe(before);
  });

  it('refuses commissioning beyond a hall power cap', async () => {
    const hall = fleet.halls.find((h) => h.hallId === h100Rack.hallId)!;
    await api(service.url)
      .post('/power-budgets')
      .send({ scope: 'rack', scopeId: h100Rack.rackId, budgetW: 100_000, reason: 'busbar upgrade' })
      .expect(200);
    const draw = (await api(service.url).get('/power/halls').expect(200)).body.find(
      (h: { id: string }) => h.id === hall.hallId,
    );
    await api(service.url)
      .post('/power-budgets')
      .send({ scope: 'hall', scopeId: hall.hallId, budgetW: draw.drawW + 5_000, reason: 'feed derated' })
      .expect(200);
    const nodeId = `${h100Rack.rackId}-n09`;
    const response = await api(service.url)
      .post(`/racks/${h100Rack.rackId}/nodes`)
      .send({
        nodes: [
          {
            nodeId,
            nominalPowerW: 10_200,
            gpus: Array.from({ length: 8 }, (_, i) => ({ gpuId: `${nodeId}-g${i}` })),
          },
        ],
      })
      .expect(422);
    expect(response.body.error).toBe('hall-power-cap-exceeded');
    const halls = (await api(service.url).get('/power/halls').expect(200)).body;
    expect(halls.find((h: { id: string }) => h.id === hall.hallId)).toMatchObject({ headroomW: 5_000 });
  });

  it('two concurrent commissions into one hall cannot together break its power cap', async () => {
    const [rackA, rackB] = fleet.racks.filter((r) => r.gpuClass === 'H200');
    expect(rackA.hallId).toBe(rackB.hallId);
    for (const rack of [rackA, rackB]) {
      await api(service.url)
        .post('/power-budgets')
        .send({ scope: 'rack', scopeId: rack.rackId, budgetW: 100_000, reason: 'upgrade' })
        .expect(200);
    }
    const hallDraw = (await api(service.url).get('/power/halls').expect(200)).body.find(
      (h: { id: string }) => h.id === rackA.hallId,
    ).drawW;
    // Room for one more 10.2 kW node in the hall, not two.
    await api(service.url)
      .post('/power-budgets')
      .send({ scope: 'hall', scopeId: rackA.hallId, budgetW: hallDraw + 15_000, reason: 'derated' })
      .expect(200);
    const commission = (rackId: string) => {
      const nodeId = `${rackId}-n09`;
      return api(service.url)
        .post(`/racks/${rackId}/nodes`)
        .send({
          nodes: [
            {
              nodeId,
              nominalPowerW: 10_200,
              gpus: Array.from({ length: 8 }, (_, i) => ({ gpuId: `${nodeId}-g${i}` })),
            },
          ],
        });
    };
    const responses = await Promise.all([commission(rackA.rackId), commission(rackB.rackId)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 422]);
    expect(responses.find((r) => r.status === 422)?.body.error).toBe('hall-power-cap-exceeded');
    const hall = (await api(service.url).get('/power/halls').expect(200)).body.find(
      (h: { id: string }) => h.id === rackA.hallId,
    );
    expect(hall).toMatchObject({ drawW: hallDraw + 10_200, headroomW: 15_000 - 10_200 });
  });

  it('drains, decommissions and releases a node’s power', async () => {
    const node = h100Rack.nodes[1];
    const before = (await api(service.url).get('/power/sites').expect(200)).body[0];
    await api(service.url).post(`/nodes/${node.nodeId}/drain`).send({ reason: 'eol' }).expect(200);
    await api(service.url).post(`/nodes/${node.nodeId}/decommission`).send({ reason: 'eol' }).expect(200);
    const after = (await api(service.url).get('/power/sites').expect(200)).body[0];
    expect(before.drawW - after.drawW).toBe(node.nominalPowerW);
    expect((await capacity()).H100).toMatchObject({ total: 160, decommissioned: 8, available: 151 });
  });

  it('rebuilds the fleet projection from the log to exactly the live rows', async () => {
    // Into a scratch schema, which only the administrator may create.
    const admin = await service.db.adminDataSource();
    const rebuilt = await rebuildProjection(admin, store, fleetProjection);
    const comparison = await compareProjection(admin, fleetProjection, 'inventory', rebuilt.targetSchema);
    expect(comparison.map((c) => [c.table, c.equal])).toEqual(fleetProjection.tables.map((t) => [t, true]));
    expect(comparison.find((c) => c.table === 'gpus')?.liveRows).toBe(576 + 8);
    expect((await store.verifyChain(dataSource)).ok).toBe(true);
  });

  it('documents its commands and queries in OpenAPI', async () => {
    const doc = await api(service.url).get('/docs/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/sites',
        '/halls',
        '/racks',
        '/racks/{rackId}/nodes',
        '/gpus/{gpuId}/health',
        '/racks/{rackId}/drain',
        '/capacity',
        '/power/halls',
        '/fleet/import',
      ]),
    );
  });
});

describe("inventory's watermark heartbeat (issue #22) against real Kafka and PostgreSQL", () => {
  let service: TestService;
  let collector: TopicCollector;
  const markerType = 'inventory.PartitionWatermarkAdvanced';

  beforeAll(async () => {
    service = await startTestService(InventoryModule, inventoryService, {
      env: { INVENTORY_WATERMARK_INTERVAL_MS: '200', INVENTORY_WATERMARK_LAG_MS: '60000' },
    });
    collector = await new TopicCollector(testKafka()).start([
      topicName(Topics.inventoryEvents, service.topicPrefix),
    ]);
  });

  afterAll(async () => {
    await collector?.stop();
    await service?.stop();
  });

  it('publishes one marker per partition, on that partition, as service:inventory, about a minute behind the clock', async () => {
    const messages = await collector.waitFor((m) => {
      const markers = m.filter((message) => message.headers['event-type'] === markerType);
      const partitions = (markers[0]?.value as { payload: { partitions: number } } | undefined)?.payload
        .partitions;
      return (
        partitions !== undefined && new Set(markers.map((message) => message.partition)).size === partitions
      );
    });
    const markers = messages.filter((message) => message.headers['event-type'] === markerType);
    for (const marker of markers) {
      const envelope = marker.value as {
        occurredAt: string;
        payload: { partition: number; watermark: string; source: string; topic: string };
        principal?: { subject: string };
      };
      expect(envelope.payload).toMatchObject({
        partition: marker.partition,
        source: 'heartbeat',
        topic: Topics.inventoryEvents,
      });
      expect(envelope.principal?.subject).toBe('service:inventory');
      const behindMs = Date.now() - Date.parse(envelope.payload.watermark);
      expect(behindMs).toBeGreaterThanOrEqual(60_000);
      expect(behindMs).toBeLessThan(5 * 60_000);
    }
  });

  it('refuses a command stamped behind the published watermark with the reason, and takes one stamped now', async () => {
    const stale = await api(service.url)
      .post('/sites')
      .send({
        siteId: 'late-site',
        name: 'Late',
        powerCapW: 1_000_000,
        occurredAt: new Date(Date.now() - 10 * 60_000).toISOString(),
      })
      .expect(409);
    expect(stale.body.error).toBe('stale-command');
    expect(stale.body.message).toMatch(/behind inventory's published watermark/);
    const sites = () =>
      service.app
        .get(DataSource)
        .query(
          `SELECT 1 FROM inventory.events WHERE type = 'inventory.SiteRegistered' AND payload->>'siteId' = 'late-site'`,
        );
    expect(await sites()).toHaveLength(0);
    await api(service.url)
      .post('/sites')
      .send({ siteId: 'late-site', name: 'Now', powerCapW: 1_000_000 })
      .expect(200);
    expect(await sites()).toHaveLength(1);
  });
});
