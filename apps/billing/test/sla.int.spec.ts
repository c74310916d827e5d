import { allocation, EventEnvelope, inventory, metering, Topics, topicName } from '@fleetledger/contracts';
import { compareProjection, EventStore, rebuildProjection } from '@fleetledger/eventstore';
import { api, TestService, TopicCollector, waitUntil } from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { fleetHealthProjection } from '../src/projections/fleet-health.projection';
import { envelope, publish } from './envelopes';
import { usageRecorded } from './fixtures';
import { BillingWorld, publishInventoryWatermark, startBillingWorld } from './billing-world';

/**
 * SLA credits end to end on real Kafka and PostgreSQL: inventory's GPU health events and allocation's lease
 * events in, a credit line and CreditIssued out.
 *
 *   lease X (tenant-sla): exclusive over rack r1 (8 H100, commissioned in October), 8 H100 committed for November.
 *   3 GPUs of r1 fail on Nov 10 and come back on Nov 13: 3 x 3 days = 777,600 of 20,736,000 committed GPU-s
 *   -> availability 96.25 % (9625 bp), below 99 % -> 25 % credit of the committed charges.
 *   A failure in rack r2 (not leased) changes nothing.
 *   Committed charges: 8 GPU-h used x 2.50 = 20.00, + shortfall 7,980.00 = minimum 8,000.00; credit 2,000.00.
 * Issue #22: billing runs with BILLING_INVENTORY_WATERMARK=required, so the invoice (its plan has credit tiers)
 * is final only once inventory's watermark has passed the period end on every partition.
 */
describe('SLA credits from inventory health against real Kafka and PostgreSQL', () => {
  let world: BillingWorld;
  let service: TestService;
  let producer: Producer;
  let collector: TopicCollector;
  const tenant = { 'x-tenant-id': 'tenant-sla' };
  const invoiceId = 'tenant-sla.2026-11';
  const rackStream = (rackId: string) => inventory.inventoryStreams.rack(rackId);

  const commissioned = (rackId: string) =>
    envelope<inventory.NodesCommissionedPayload>(
      inventory.NodesCommissioned.type,
      rackStream(rackId),
      {
        rackId,
        hallId: 'h1',
        siteId: 'site1',
        gpuClass: 'H100',
        nodes: [
          {
            nodeId: `${rackId}-n01`,
            nominalPowerW: 10_200,
            gpus: Array.from({ length: 8 }, (_, i) => ({
              gpuId: `${rackId}-n01-g${i}`,
              memoryGb: 80,
              nvlinkDomain: `${rackId}-n01-nvl`,
              health: 'healthy' as const,
            })),
          },
        ],
        rackDrawW: 10_200,
      },
      '2026-10-15T00:00:00.000Z',
    );
  const health = (rackId: string, gpu: number, to: 'failed' | 'healthy', occurredAt: string) =>
    envelope<inventory.GpuHealthChangedPayload>(
      inventory.GpuHealthChanged.type,
      rackStream(rackId),
      {
        gpuId: `${rackId}-n01-g${gpu}`,
        nodeId: `${rackId}-n01`,
        rackId,
        hallId: 'h1',
        gpuClass: 'H100',
        from: to === 'failed' ? 'healthy' : 'failed',
        to,
        health: to,
        reason: to === 'failed' ? 'xid 79: fell off the bus' : 'replaced',
      },
      occurredAt,
    );
  const failures = [0, 1, 2].map((gpu) => health('r1', gpu, 'failed', '2026-11-10T00:00:00.000Z'));
  const repairs = [0, 1, 2].map((gpu) => health('r1', gpu, 'healthy', '2026-11-13T00:00:00.000Z'));
  const elsewhere = health('r2', 0, 'failed', '2026-11-05T00:00:00.000Z');
  const signed = envelope<allocation.LeaseSignedPayload>(
    allocation.LeaseSigned.type,
    'lease-book',
    {
      leaseId: 'X',
      tenantId: 'tenant-sla',
      term: { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' },
      committedGpus: { H100: 8 },
      exclusivity: 'exclusive',
      scope: { hallIds: [], rackIds: ['r1'] },
      ratePlanId: 'usd-standard',
      signedAt: '2026-10-01T00:00:00.000Z',
      author: 'sales',
    },
    '2026-10-01T00:00:00.000Z',
  );
  const usage = usageRecorded({
    leaseId: 'X',
    tenantId: 'tenant-sla',
    gpuClass: 'H100',
    hourStart: '2026-11-02T00:00:00.000Z',
    gpuSeconds: '28800.000',
  });

  beforeAll(async () => {
    world = await startBillingWorld({
      collectBillingEvents: true,
      env: { BILLING_INVENTORY_WATERMARK: 'required' },
    });
    ({ service, producer } = world);
    collector = world.collector!;
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('GPU failures in a leased rack take availability below a tier: a credit line on the invoice and CreditIssued', async () => {
    const inventoryTopic = topicName(Topics.inventoryEvents, service.topicPrefix);
    await publish(producer, inventoryTopic, [commissioned('r1'), commissioned('r2')]);
    await publish(producer, inventoryTopic, [...failures, elsewhere, ...repairs]);
    await publish(producer, topicName(Topics.allocationEvents, service.topicPrefix), [signed]);
    await publish(producer, topicName(Topics.meteringEvents, service.topicPrefix), [
      envelope(
        metering.UsageRecorded.type,
        `usage-record-${usage.payload.usageRecordId}`,
        usage.payload,
        usage.payload.hourStart,
      ),
    ]);
    const dataSource = service.app.get(DataSource);
    // 16 GPUs commissioned, 3 failed + 3 repaired in r1, 1 failed in r2: 23 availability rows
    await waitUntil(
      async () =>
        (await dataSource.query(`SELECT count(*)::int AS n FROM billing.gpu_availability_changes`))[0].n ===
        23,
      30_000,
      'the health events recorded',
    );
    await waitUntil(
      async () => (await api(service.url).get(`/invoices/${invoiceId}`).set(tenant)).status === 200,
      30_000,
      'the draft',
    );

    // The draft already previews the credit.
    const draft = (await api(service.url).get(`/invoices/${invoiceId}`).set(tenant).expect(200)).body;
    expect(draft.totalMinor).toBe('600000');

    // Inventory has not said it published every health event of November: 409 naming inventory, on every
    // partition until then (here: one hour short of the period end).
    const finalize = () =>
      api(service.url)
        .post(`/invoices/${invoiceId}/finalize`)
        .set(tenant)
        .send({ finalizedAt: '2026-12-01T00:00:00.000Z' });
    const notYet = await finalize().expect(409);
    expect(notYet.body.error).toBe('period-incomplete');
    expect(notYet.body.message).toMatch(/inventory: inventory has not published a watermark/);
    await publishInventoryWatermark(producer, inventoryTopic, '2026-11-30T23:00:00.000Z');
    await waitUntil(
      async () =>
        (
          await dataSource.query(
            `SELECT count(*)::int AS n FROM billing.input_watermarks WHERE input = 'inventory'`,
          )
        )[0].n === 3,
      30_000,
      "inventory's watermark recorded",
    );
    const behind = await finalize().expect(409);
    expect(behind.body.message).toMatch(/inventory: .*before 2026-11-30T23:00:00.000Z only, 60 min short/);
    expect(behind.body.details.missing).toEqual([
      expect.objectContaining({
        input: 'inventory',
        reason: 'inventory-behind',
        watermark: '2026-11-30T23:00:00.000Z',
      }),
    ]);
    await publishInventoryWatermark(producer, inventoryTopic, '2026-12-01T00:00:00.000Z');
    await waitUntil(
      async () =>
        (
          await dataSource.query(
            `SELECT count(*)::int AS n FROM billing.input_watermarks WHERE input = 'inventory' AND watermark >= '2026-12-01T00:00:00Z'`,
          )
        )[0].n === 3,
      30_000,
      "inventory's watermark past the period end",
    );
    const progress = (await api(service.url).get('/progress').expect(200)).body;
    expect(progress.inputs.find((i: { input: string }) => i.input === 'inventory')).toMatchObject({
      watermark: '2026-12-01T00:00:00.000Z',
      partitions: [{ partition: 0 }, { partition: 1 }, { partition: 2 }],
    });

    const finalized = (
      await api(service.url)
        .post(`/invoices/${invoiceId}/finalize`)
        .set(tenant)
        .send({ finalizedAt: '2026-12-01T00:00:00.000Z' })
        .expect(200)
    ).body;
    expect(
      Object.fromEntries(
        finalized.lines.map((line: { lineId: string; amountMinor: string }) => [
          line.lineId,
          line.amountMinor,
        ]),
      ),
    ).toEqual({
      'X:gpu-usage:H100:250000000': '2000',
      'X:commitment-shortfall:H100': '798000',
      'X:sla-credit:H100': '-200000',
    });
    expect(finalized.totalMinor).toBe('600000');
    const credit = finalized.lines.find((line: { kind: string }) => line.kind === 'sla-credit');
    expect(credit).toMatchObject({ quantity: '2500', quantityUnit: 'basis-point' });
    // the failures that took capacity away (not the r2 one, not the repairs), then the lease
    expect(credit.sourceEventIds).toEqual([...failures.map((e) => e.eventId).sort(), signed.eventId]);

    const messages = await collector.waitFor((m) =>
      m.some((message) => message.headers['event-type'] === 'billing.CreditIssued'),
    );
    const issued = messages.find((message) => message.headers['event-type'] === 'billing.CreditIssued')
      ?.value as EventEnvelope;
    expect(issued.payload).toMatchObject({
      invoiceId,
      leaseId: 'X',
      gpuClass: 'H100',
      reason: 'sla-availability',
      availabilityBasisPoints: 9625,
      creditBasisPoints: 2500,
      amountMinor: '200000',
    });

    // A line's source events are served back, inventory's included.
    const sources = (
      await api(service.url)
        .get(`/invoices/${invoiceId}/lines/X:sla-credit:H100/source-events`)
        .set(tenant)
        .expect(200)
    ).body;
    expect(sources.events.map((e: EventEnvelope) => e.type)).toEqual([
      inventory.GpuHealthChanged.type,
      inventory.GpuHealthChanged.type,
      inventory.GpuHealthChanged.type,
      allocation.LeaseSigned.type,
    ]);
  });

  it('a redelivered health event changes nothing', async () => {
    const dataSource = service.app.get(DataSource);
    const count = async () =>
      (await dataSource.query(`SELECT count(*)::int AS n FROM billing.gpu_availability_changes`))[0].n;
    const before = await count();
    const marker = health('r1', 7, 'healthy', '2026-11-20T00:00:00.000Z'); // already healthy: no row
    await publish(producer, topicName(Topics.inventoryEvents, service.topicPrefix), [failures[0], marker]);
    await waitUntil(
      async () =>
        (await dataSource.query(`SELECT 1 FROM billing.inbox WHERE event_id = $1`, [marker.eventId]))
          .length === 1,
      30_000,
      'the marker consumed',
    );
    expect(await count()).toBe(before);
  });

  it('rebuilds the fleet-health read model from its inbox to the same rows', async () => {
    // Scratch schemas for the rebuilds: only the administrator may create schemas.
    const dataSource = await service.db.adminDataSource();
    const rebuilt = await rebuildProjection(dataSource, service.app.get(EventStore), fleetHealthProjection);
    const comparison = await compareProjection(
      dataSource,
      fleetHealthProjection,
      'billing',
      rebuilt.targetSchema,
    );
    expect(comparison.map((table) => [table.table, table.equal])).toEqual([
      ['fleet_gpus', true],
      ['gpu_availability_changes', true],
    ]);
    expect(comparison.find((table) => table.table === 'gpu_availability_changes')).toMatchObject({
      liveRows: 23,
    });
  });
});
