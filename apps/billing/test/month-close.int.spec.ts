import { allocation, EventEnvelope, Topics, topicName } from '@fleetledger/contracts';
import { serviceAudience } from '@fleetledger/platform';
import { api, httpAs, TestService, testToken, TopicCollector, waitUntil } from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { BillingWorld, startBillingWorld } from './billing-world';
import { envelope, publish } from './envelopes';

/**
 * Issue #15.5, a commitment with no usage is billed: a month close drafts the invoice of every month a lease
 * commits in, from the lease schedule, on real Kafka and PostgreSQL (no usage is ever published here).
 *
 *   lease C (tenant-c): 8 committed H100, term Nov 16 2026 - Feb 10 2027; amended on Dec 15 to 4 H100.
 *   lease D (tenant-d): 2 committed H200 for a year from Nov 1 2026; terminated Jan 11 2027.
 *   plan usd-standard: 1,000.00 per committed H100 per month, 1,500.00 per H200.
 *
 *   C November (term start, 15 of 30 days):            8 x 1,000.00 x 15/30                     = 4,000.00
 *   C December (amendment, 14 days x 8 + 17 days x 4):  (8 x 14 + 4 x 17) x 1,000.00 / 31        = 5,806.45
 *   C February (term end, 9 of 28 days, term-end inv.): 4 x 1,000.00 x 9/28                      = 1,285.71
 *   D January (early termination, 10 of 31 days):      2 x 1,500.00 x 10/31                     =   967.74
 *   D February: nothing (terminated).
 */
describe('month close bills commitments without usage (issue #15.5)', () => {
  let world: BillingWorld;
  let service: TestService;
  let producer: Producer;
  let collector: TopicCollector;
  let dataSource: DataSource;
  let finance: ReturnType<typeof httpAs>;

  const leaseSigned = (leaseId: string, tenantId: string, committedGpus: object, term: object) =>
    envelope(
      allocation.LeaseSigned.type,
      'lease-book',
      {
        leaseId,
        tenantId,
        term,
        committedGpus,
        exclusivity: 'shared',
        scope: { hallIds: [], rackIds: [] },
        ratePlanId: 'usd-standard',
        signedAt: '2026-10-01T00:00:00.000Z',
        author: 'sales',
      },
      '2026-10-01T00:00:00.000Z',
    );
  const termC = { start: '2026-11-16T00:00:00.000Z', end: '2027-02-10T00:00:00.000Z' };
  const termD = { start: '2026-11-01T00:00:00.000Z', end: '2027-11-01T00:00:00.000Z' };
  const close = (period: string, closedAt: string, tenantId?: string) => {
    const call = finance.post(`/billing-periods/${period}/close`).send({ closedAt });
    return tenantId ? call.set('x-tenant-id', tenantId) : call;
  };
  const invoice = async (tenantId: string, invoiceId: string) =>
    (await api(service.url).get(`/invoices/${invoiceId}`).set('x-tenant-id', tenantId).expect(200)).body;
  const draftedEvents = async (invoiceId: string) =>
    dataSource.query<{ event_id: string; metadata: { principal?: { subject: string } } }[]>(
      `SELECT event_id::text, metadata FROM billing.events WHERE stream_id = $1 AND type = 'billing.InvoiceDrafted'`,
      [`invoice-${invoiceId}`],
    );

  beforeAll(async () => {
    world = await startBillingWorld({ collectBillingEvents: true });
    ({ service, producer } = world);
    collector = world.collector!;
    dataSource = service.app.get(DataSource);
    finance = httpAs(
      service.url,
      await testToken({ roles: ['finance'], subject: 'finance:alice', audience: serviceAudience('billing') }),
    );
    const allocationTopic = topicName(Topics.allocationEvents, service.topicPrefix);
    await publish(producer, allocationTopic, [
      leaseSigned('C', 'tenant-c', { H100: 8 }, termC),
      leaseSigned('D', 'tenant-d', { H200: 2 }, termD),
      envelope(
        allocation.LeaseAmended.type,
        'lease-book',
        {
          leaseId: 'C',
          tenantId: 'tenant-c',
          term: termC,
          committedGpus: { H100: 4 },
          scope: { hallIds: [], rackIds: [] },
          ratePlanId: 'usd-standard',
          previous: { term: termC, committedGpus: { H100: 8 }, ratePlanId: 'usd-standard' },
          effectiveAt: '2026-12-15T00:00:00.000Z',
          reason: 'half the fleet',
          author: 'sales',
        },
        '2026-12-01T00:00:00.000Z',
      ),
      envelope(
        allocation.LeaseTerminated.type,
        'lease-book',
        {
          leaseId: 'D',
          tenantId: 'tenant-d',
          terminatedAt: '2027-01-11T00:00:00.000Z',
          reason: 'contract breach',
          author: 'finance',
        },
        '2027-01-11T00:00:00.000Z',
      ),
    ]);
    await waitUntil(
      async () =>
        (
          await dataSource.query(
            `SELECT count(*)::int AS n FROM billing.leases WHERE jsonb_array_length(terms->'sourceEventIds') = 2`,
          )
        )[0].n === 2,
      30_000,
      'both leases with their amendment and termination',
    );
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('a tenant committing 8 H100 and running nothing gets a November invoice for the prorated minimum, once', async () => {
    const reply = (await close('2026-11', '2026-12-01T00:15:00.000Z').expect(200)).body;
    expect(reply).toEqual({
      period: '2026-11',
      invoices: [
        {
          invoiceId: 'tenant-c.2026-11',
          tenantId: 'tenant-c',
          leaseIds: ['C'],
          opened: true,
          status: 'draft',
        },
        {
          invoiceId: 'tenant-d.2026-11',
          tenantId: 'tenant-d',
          leaseIds: ['D'],
          opened: true,
          status: 'draft',
        },
      ],
      skipped: [],
    });

    // the event, on the topic, recorded as the finance person who closed the month
    const messages = await collector.waitFor(
      (all) => all.filter((m) => m.headers['event-type'] === 'billing.InvoiceDrafted').length >= 2,
    );
    const drafted = messages
      .filter((m) => m.headers['event-type'] === 'billing.InvoiceDrafted')
      .map((m) => m.value as EventEnvelope);
    expect(drafted).toContainEqual(
      expect.objectContaining({
        streamId: 'invoice-tenant-c.2026-11',
        occurredAt: '2026-12-01T00:15:00.000Z',
        tenantId: 'tenant-c',
        principal: expect.objectContaining({ subject: 'finance:alice', roles: ['finance'] }),
        payload: {
          invoiceId: 'tenant-c.2026-11',
          tenantId: 'tenant-c',
          period: '2026-11',
          currency: { code: 'USD', minorUnitExponent: 2 },
        },
      }),
    );

    // the read model: a draft whose preview is the prorated minimum
    expect(await invoice('tenant-c', 'tenant-c.2026-11')).toMatchObject({
      status: 'draft',
      totalMinor: '400000',
      lines: [{ lineId: 'C:commitment-shortfall:H100', amountMinor: '400000' }],
    });

    // the scheduler retries: nothing new is written, the same answer says so
    const again = (await close('2026-11', '2026-12-01T00:20:00.000Z').expect(200)).body;
    expect(again.invoices.map((i: { opened: boolean }) => i.opened)).toEqual([false, false]);
    expect(await draftedEvents('tenant-c.2026-11')).toHaveLength(1);

    // finance finalizes it like any invoice
    const finalized = (
      await api(service.url)
        .post('/invoices/tenant-c.2026-11/finalize')
        .set('x-tenant-id', 'tenant-c')
        .send({ finalizedAt: '2026-12-02T00:00:00.000Z' })
        .expect(200)
    ).body;
    expect(finalized).toMatchObject({ status: 'finalized', totalMinor: '400000' });
    expect(finalized.invoiceNumber).toEqual(expect.any(Number));
    const reclosed = (await close('2026-11', '2026-12-03T00:00:00.000Z', 'tenant-c').expect(200)).body;
    expect(reclosed.invoices).toEqual([expect.objectContaining({ opened: false, status: 'finalized' })]);
  });

  it('every month of the term is billed: amendment, early termination, term end', async () => {
    for (const [period, closedAt] of [
      ['2026-12', '2027-01-01T00:15:00.000Z'],
      ['2027-01', '2027-02-01T00:15:00.000Z'],
      ['2027-02', '2027-03-01T00:15:00.000Z'],
    ])
      await close(period, closedAt).expect(200);

    expect(await invoice('tenant-c', 'tenant-c.2026-12')).toMatchObject({
      totalMinor: '580645',
      lines: [{ lineId: 'C:commitment-shortfall:H100', amountMinor: '580645' }],
    });
    expect(await invoice('tenant-d', 'tenant-d.2027-01')).toMatchObject({
      totalMinor: '96774',
      lines: [{ lineId: 'D:commitment-shortfall:H200', amountMinor: '96774' }],
    });
    // the term ends Feb 10: its own invoice, which finance can finalize as soon as the term is over
    expect(await invoice('tenant-c', 'tenant-c.2027-02.C')).toMatchObject({
      totalMinor: '128571',
      lines: [{ lineId: 'C:commitment-shortfall:H100', amountMinor: '128571' }],
    });
    const february = (
      await api(service.url).get('/invoices?period=2027-02').set('x-tenant-id', 'tenant-c').expect(200)
    ).body;
    // the list shows a draft's running total (issue #15.8): what finalizing it now would bill
    expect(february).toEqual([
      expect.objectContaining({ invoiceId: 'tenant-c.2027-02.C', status: 'draft', totalMinor: '128571' }),
    ]);
    // D was terminated in January: nothing owed in February
    expect(
      (await api(service.url).get('/invoices?period=2027-02').set('x-tenant-id', 'tenant-d').expect(200))
        .body,
    ).toEqual([]);
  });

  it('refuses to close a month that is not over, and a tenant may not close one', async () => {
    const early = await close('2027-03', '2027-03-31T23:00:00.000Z').expect(422);
    expect(early.body).toMatchObject({ error: 'period-not-ended' });
    await close('2027-13', '2028-02-01T00:00:00.000Z').expect(400);
    const tenant = httpAs(
      service.url,
      await testToken({ roles: ['tenant'], tenant: 'tenant-c', audience: serviceAudience('billing') }),
    );
    await tenant
      .post('/billing-periods/2027-03/close')
      .send({ closedAt: '2027-04-01T00:00:00.000Z' })
      .expect(403);
    expect(await draftedEvents('tenant-c.2027-03')).toHaveLength(0);
  });
});
