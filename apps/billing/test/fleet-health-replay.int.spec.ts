import { inventory, Topics, topicName } from '@fleetledger/contracts';
import { compareProjection, EventStore, Projection, rebuildProjection } from '@fleetledger/eventstore';
import { TestService, waitUntil } from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { fleetHealthProjection } from '../src/projections/fleet-health.projection';
import { envelope, publish } from './envelopes';
import { BillingWorld, startBillingWorld } from './billing-world';

/**
 * The fleet-health projection's batched replay (`applyBatch`) against what the live consumer wrote event by
 * event (`apply`), on real Kafka and PostgreSQL. The events of rack q1 (4 GPUs, H100):
 *
 *   1  NodesCommissioned q1-n01-g0..g3 healthy             -> 4 rows (new GPUs, available)
 *   2  g0 failed                                            -> flip
 *   3  g0 failed again                                      -> no row (repeated state)
 *   4  g0 healthy                                           -> flip
 *   5  g0 degraded                                          -> no row (still available)
 *   6  g0 failed                                            -> flip
 *   7  NodeDrainStarted g1, g2                              -> 2 rows
 *   8  g0 healthy                                           -> flip
 *   9  NodeUndrained g1 healthy, g2 failed                  -> 1 row (g1; g2 stays unavailable)
 *   10 g1 healthy (already)                                 -> no row
 *   11 x9-n01-g0 failed, a GPU billing never saw commissioned -> 1 row (new GPU, unavailable)
 *   12 x9-n01-g0 healthy                                    -> flip
 *
 * 13 change rows, 5 GPUs. Rebuilt with `apply` only, and with `applyBatch` at 1, 3 and 1000 events per batch
 * (1000: g0 flips four times inside one batch), each must equal the live tables row for row.
 */
describe('fleet-health replay in batches against real Kafka and PostgreSQL', () => {
  let world: BillingWorld;
  let service: TestService;
  let producer: Producer;
  const rackId = 'q1';
  const nodeId = 'q1-n01';
  const gpu = (i: number) => `${nodeId}-g${i}`;
  const stream = inventory.inventoryStreams.rack(rackId);
  const day = (d: number) => `2026-11-${String(d).padStart(2, '0')}T00:00:00.000Z`;
  const place = { rackId, hallId: 'h1', gpuClass: 'H100' as const };

  const health = (
    gpuId: string,
    from: 'healthy' | 'degraded' | 'failed',
    to: 'healthy' | 'degraded' | 'failed',
    occurredAt: string,
    at = place,
  ) =>
    envelope<inventory.GpuHealthChangedPayload>(
      inventory.GpuHealthChanged.type,
      stream,
      { gpuId, nodeId: gpuId.replace(/-g\d+$/, ''), ...at, from, to, health: to, reason: 'test' },
      occurredAt,
    );

  const events = [
    envelope<inventory.NodesCommissionedPayload>(
      inventory.NodesCommissioned.type,
      stream,
      {
        ...place,
        siteId: 'site1',
        nodes: [
          {
            nodeId,
            nominalPowerW: 10_200,
            gpus: [0, 1, 2, 3].map((i) => ({
              gpuId: gpu(i),
              memoryGb: 80,
              nvlinkDomain: `${nodeId}-nvl`,
              health: 'healthy' as const,
            })),
          },
        ],
        rackDrawW: 10_200,
      },
      day(1),
    ),
    health(gpu(0), 'healthy', 'failed', day(2)),
    health(gpu(0), 'failed', 'failed', day(3)),
    health(gpu(0), 'failed', 'healthy', day(4)),
    health(gpu(0), 'healthy', 'degraded', day(5)),
    health(gpu(0), 'degraded', 'failed', day(6)),
    envelope<inventory.NodeDrainStartedPayload>(
      inventory.NodeDrainStarted.type,
      stream,
      { ...place, nodeId, gpuIds: [gpu(1), gpu(2)], reason: 'maintenance' },
      day(7),
    ),
    health(gpu(0), 'failed', 'healthy', day(8)),
    envelope<inventory.NodeUndrainedPayload>(
      inventory.NodeUndrained.type,
      stream,
      {
        ...place,
        nodeId,
        gpus: [
          { gpuId: gpu(1), nodeId, health: 'healthy' },
          { gpuId: gpu(2), nodeId, health: 'failed' },
        ],
        reason: 'maintenance done',
      },
      day(9),
    ),
    health(gpu(1), 'healthy', 'healthy', day(10)),
    health('x9-n01-g0', 'healthy', 'failed', day(11), { rackId: 'x9', hallId: 'h2', gpuClass: 'H100' }),
    health('x9-n01-g0', 'failed', 'healthy', day(12), { rackId: 'x9', hallId: 'h2', gpuClass: 'H100' }),
  ];

  beforeAll(async () => {
    world = await startBillingWorld({ publishUsdPlan: false });
    ({ service, producer } = world);
    await publish(producer, topicName(Topics.inventoryEvents, service.topicPrefix), events);
    const dataSource = service.app.get(DataSource);
    const last = events[events.length - 1].eventId;
    await waitUntil(
      async () =>
        (await dataSource.query(`SELECT 1 FROM billing.inbox WHERE event_id = $1`, [last])).length === 1,
      30_000,
      'the inventory events consumed',
    );
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('the live consumer wrote a change row per flip, in event order', async () => {
    const dataSource = service.app.get(DataSource);
    const changes = await dataSource.query(
      `SELECT gpu_id, event_id, at, position::int AS position, rack_id, available
         FROM billing.gpu_availability_changes ORDER BY position, gpu_id`,
    );
    const row = (event: number, gpuId: string, available: boolean, rack = rackId) => ({
      gpu_id: gpuId,
      event_id: events[event - 1].eventId,
      at: new Date(events[event - 1].occurredAt),
      position: events[event - 1].globalPosition,
      rack_id: rack,
      available,
    });
    expect(changes).toEqual([
      ...[0, 1, 2, 3].map((i) => row(1, gpu(i), true)),
      row(2, gpu(0), false),
      row(4, gpu(0), true),
      row(6, gpu(0), false),
      row(7, gpu(1), false),
      row(7, gpu(2), false),
      row(8, gpu(0), true),
      row(9, gpu(1), true),
      row(11, 'x9-n01-g0', false, 'x9'),
      row(12, 'x9-n01-g0', true, 'x9'),
    ]);
    expect(
      await dataSource.query(
        `SELECT gpu_id, rack_id, hall_id, available, event_id FROM billing.fleet_gpus ORDER BY gpu_id`,
      ),
    ).toEqual([
      { gpu_id: gpu(0), rack_id: rackId, hall_id: 'h1', available: true, event_id: events[7].eventId },
      { gpu_id: gpu(1), rack_id: rackId, hall_id: 'h1', available: true, event_id: events[8].eventId },
      { gpu_id: gpu(2), rack_id: rackId, hall_id: 'h1', available: false, event_id: events[6].eventId },
      { gpu_id: gpu(3), rack_id: rackId, hall_id: 'h1', available: true, event_id: events[0].eventId },
      { gpu_id: 'x9-n01-g0', rack_id: 'x9', hall_id: 'h2', available: true, event_id: events[11].eventId },
    ]);
  });

  const applyOnly: Projection = { ...fleetHealthProjection, applyBatch: undefined };
  const rebuilds: [string, Projection, number][] = [
    ['apply event by event', applyOnly, 1000],
    ['applyBatch, 1 event per batch', fleetHealthProjection, 1],
    ['applyBatch, 3 events per batch', fleetHealthProjection, 3],
    ['applyBatch, all events in one batch', fleetHealthProjection, 1000],
  ];
  it.each(rebuilds)('a rebuild with %s equals the live tables', async (_how, projection, batchSize) => {
    // Scratch schemas for the rebuilds: only the administrator may create schemas.
    const dataSource = await service.db.adminDataSource();
    const targetSchema = `billing_rebuild_fh_${batchSize}_${projection.applyBatch ? 'batch' : 'apply'}`;
    const rebuilt = await rebuildProjection(dataSource, service.app.get(EventStore), projection, {
      targetSchema,
      batchSize,
    });
    expect(rebuilt.eventsApplied).toBe(events.length);
    const comparison = await compareProjection(dataSource, projection, 'billing', targetSchema);
    expect(comparison.map((table) => [table.table, table.liveRows, table.equal])).toEqual([
      ['fleet_gpus', 5, true],
      ['gpu_availability_changes', 13, true],
    ]);
  });

  it('a batch over GPUs already in the tables folds from their stored state', async () => {
    // Rebuild the first 5 events, then the rest in one batch (resumed): g0 starts available from the table.
    // Scratch schemas for the rebuilds: only the administrator may create schemas.
    const dataSource = await service.db.adminDataSource();
    const store = service.app.get(EventStore);
    const targetSchema = 'billing_rebuild_fh_resume';
    const [{ recorded }] = await dataSource.query(
      `SELECT (envelope->>'recordedAt') AS recorded FROM billing.inbox WHERE event_id = $1`,
      [events[4].eventId],
    );
    await rebuildProjection(dataSource, store, fleetHealthProjection, {
      targetSchema,
      recordedUntil: recorded,
    });
    const [{ n }] = await dataSource.query(
      `SELECT count(*)::int AS n FROM ${targetSchema}.gpu_availability_changes`,
    );
    expect(n).toBe(6);
    await rebuildProjection(dataSource, store, fleetHealthProjection, {
      targetSchema,
      resume: true,
      batchSize: 1000,
    });
    const comparison = await compareProjection(dataSource, fleetHealthProjection, 'billing', targetSchema);
    expect(comparison.every((table) => table.equal)).toBe(true);
  });
});
