import { allocation, EventEnvelope, metering, Topics, topicName } from '@fleetledger/contracts';
import { api, TestService, TopicCollector, waitUntil } from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { BillingWorld, startBillingWorld } from './billing-world';
import { envelope, publish } from './envelopes';
import { usageRecorded, usdPlan } from './fixtures';

/**
 * Issue #15.6, a dollar commitment across GPU classes, on real Kafka and PostgreSQL through the HTTP API:
 *   plan usd-cluster-small: the usd-standard prices with a monetary commitment of 10.00 a month;
 *   plan usd-cluster-1m: the same with 1,000,000.00 a month.
 *   tenant-w, lease W on usd-cluster-small, no GPUs committed: 2 H100-hours (Nov 2, 00:00) then 2 H200-hours
 *     (01:00). The H100 hours draw 5.00 at 2.50, the H200 hours the remaining 5.00 at 3.00 (1h40m), and the
 *     last 20 H200-minutes are overage at 3.60: 5.00 + 5.00 + 1.20 = 11.20.
 *   tenant-m, lease M on usd-cluster-1m, no usage at all: month close drafts November, which bills 1,000,000.00.
 */
describe('monetary commitments across classes (issue #15.6)', () => {
  let world: BillingWorld;
  let service: TestService;
  let producer: Producer;
  let collector: TopicCollector;
  let dataSource: DataSource;
  const term = { start: '2026-11-01T00:00:00.000Z', end: '2027-11-01T00:00:00.000Z' };
  const sign = (leaseId: string, tenantId: string, ratePlanId: string) =>
    envelope(
      allocation.LeaseSigned.type,
      'lease-book',
      {
        leaseId,
        tenantId,
        term,
        committedGpus: {},
        exclusivity: 'exclusive',
        scope: { hallIds: [], rackIds: [] },
        ratePlanId,
        signedAt: '2026-10-01T00:00:00.000Z',
        author: 'sales',
      },
      '2026-10-01T00:00:00.000Z',
    );
  const usage = (gpuClass: 'H100' | 'H200', hourStart: string) => {
    const record = usageRecorded({
      leaseId: 'W',
      tenantId: 'tenant-w',
      gpuClass,
      hourStart,
      gpuSeconds: '7200.000',
    });
    return envelope(
      metering.UsageRecorded.type,
      `usage-record-${record.payload.usageRecordId}`,
      record.payload,
      hourStart,
    );
  };
  const invoice = async (tenantId: string, invoiceId: string) => {
    const response = await api(service.url).get(`/invoices/${invoiceId}`).set('x-tenant-id', tenantId);
    return response.status === 200 ? response.body : undefined;
  };
  const amounts = (body: { lines: { lineId: string; amountMinor: string }[] }) =>
    Object.fromEntries(body.lines.map((line) => [line.lineId, line.amountMinor]));

  beforeAll(async () => {
    world = await startBillingWorld({ collectBillingEvents: true });
    ({ service, producer } = world);
    collector = world.collector!;
    dataSource = service.app.get(DataSource);
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('a plan publishes a monthly dollar commitment; usage of all classes draws it in hour order, the rest is overage', async () => {
    for (const [ratePlanId, monthlyCommitmentMinor] of [
      ['usd-cluster-small', '1000'],
      ['usd-cluster-1m', '100000000'],
    ])
      await api(service.url)
        .post('/rate-plans')
        .send({
          plan: usdPlan({ ratePlanId, monthlyCommitmentMinor }),
          publishedAt: '2026-10-01T00:00:00.000Z',
        })
        .expect(201);
    const [published] = (
      await dataSource.query(
        `SELECT plan FROM billing.rate_plan_versions WHERE rate_plan_id = 'usd-cluster-1m'`,
      )
    ).map((row: { plan: { monthlyCommitmentMinor?: string } }) => row.plan);
    expect(published.monthlyCommitmentMinor).toBe('100000000');

    await publish(producer, topicName(Topics.allocationEvents, service.topicPrefix), [
      sign('W', 'tenant-w', 'usd-cluster-small'),
      sign('M', 'tenant-m', 'usd-cluster-1m'),
    ]);
    await waitUntil(
      async () => (await dataSource.query(`SELECT 1 FROM billing.leases`)).length === 2,
      30_000,
      'both leases',
    );
    await publish(producer, topicName(Topics.meteringEvents, service.topicPrefix), [
      usage('H100', '2026-11-02T00:00:00.000Z'),
      usage('H200', '2026-11-02T01:00:00.000Z'),
    ]);
    await waitUntil(
      async () =>
        (await dataSource.query(`SELECT 1 FROM billing.charges WHERE invoice_id = 'tenant-w.2026-11'`))
          .length === 2,
      30_000,
      'the usage rated',
    );

    const draft = await invoice('tenant-w', 'tenant-w.2026-11');
    expect(draft.totalMinor).toBe('1120');
    expect(amounts(draft)).toEqual({
      'W:gpu-usage:H100:250000000:monetary-commitment': '500',
      'W:gpu-usage:H200:300000000:monetary-commitment': '500',
      'W:gpu-overage:H200:360000000': '120',
    });

    const finalized = (
      await api(service.url)
        .post('/invoices/tenant-w.2026-11/finalize')
        .set('x-tenant-id', 'tenant-w')
        .send({ finalizedAt: '2026-12-01T00:00:00.000Z' })
        .expect(200)
    ).body;
    expect(finalized).toMatchObject({ status: 'finalized', totalMinor: '1120' });
    const messages = await collector.waitFor((all) =>
      all.some((m) => m.headers['event-type'] === 'billing.InvoiceFinalized'),
    );
    const event = messages.find((m) => m.headers['event-type'] === 'billing.InvoiceFinalized')!
      .value as EventEnvelope<string, { totalMinor: string; lines: { lineId: string }[] }>;
    expect(event.payload.totalMinor).toBe('1120');
    expect(event.payload.lines.map((line) => line.lineId)).toContain('W:gpu-overage:H200:360000000');
  });

  it('a $1M commitment with no usage: month close drafts November and it bills the million', async () => {
    const closed = (
      await api(service.url)
        .post('/billing-periods/2026-11/close')
        .set('x-tenant-id', 'tenant-m')
        .send({ closedAt: '2026-12-01T00:15:00.000Z' })
        .expect(200)
    ).body;
    expect(closed.invoices).toEqual([
      expect.objectContaining({ invoiceId: 'tenant-m.2026-11', opened: true }),
    ]);
    const november = await invoice('tenant-m', 'tenant-m.2026-11');
    expect(november).toMatchObject({ status: 'draft', totalMinor: '100000000' });
    expect(amounts(november)).toEqual({ 'M:commitment-shortfall:monetary': '100000000' });
    const listed = (await api(service.url).get('/invoices?period=2026-11').set('x-tenant-id', 'tenant-m'))
      .body;
    expect(listed).toEqual([
      expect.objectContaining({ invoiceId: 'tenant-m.2026-11', status: 'draft', totalMinor: '100000000' }),
    ]);
  });
});
