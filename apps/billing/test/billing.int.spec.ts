import { allocation, EventEnvelope, metering, Topics, topicName } from '@fleetledger/contracts';
import { compareProjection, EventStore, Projection, rebuildProjection } from '@fleetledger/eventstore';
import { api, TestService, TopicCollector, waitUntil } from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { invoicesProjection } from '../src/projections/invoices.projection';
import { envelope, publish } from './envelopes';
import { usageCorrected, usageRecorded } from './fixtures';
import { BillingWorld, startBillingWorld } from './billing-world';

/**
 * The hand-computed November example of the domain tests, end to end on real Kafka and PostgreSQL:
 *   L1 (tenant-a): 1 committed H100 for 3 hours, used 2 GPUs x 3 hours + 4.5 kWh
 *     -> 7.50 within + 9.00 overage + 0.54 energy (minimum 4.17 covered)
 *     L1's term ends inside November: these are on its term-end invoice tenant-a.2026-11.L1 (17.04).
 *   L2 (tenant-a): 8 committed H200 for all of November, used 8 GPU-hours
 *     -> 24.00 usage + 11,976.00 take-or-pay shortfall, on the monthly invoice tenant-a.2026-11 (12,000.00)
 *   total 12,017.04 USD = 1201704 cents.
 */
describe('billing service against real Kafka and PostgreSQL', () => {
  let world: BillingWorld;
  let service: TestService;
  let producer: Producer;
  let collector: TopicCollector;
  let allocationTopic: string;
  let meteringTopic: string;
  const invoiceId = 'tenant-a.2026-11';
  const l1InvoiceId = 'tenant-a.2026-11.L1';
  const tenantA = { 'x-tenant-id': 'tenant-a' };
  const hours = ['2026-11-01T00:00:00.000Z', '2026-11-01T01:00:00.000Z', '2026-11-01T02:00:00.000Z'];
  const l1Usage = hours.map((hourStart) =>
    usageRecorded({
      leaseId: 'L1',
      gpuClass: 'H100',
      hourStart,
      gpuSeconds: '7200.000',
      energyWh: '1500.000',
    }),
  );
  const l2Usage = usageRecorded({
    leaseId: 'L2',
    gpuClass: 'H200',
    hourStart: '2026-11-10T00:00:00.000Z',
    gpuSeconds: '28800.000',
  });
  const usageEnvelope = (usage: (typeof l1Usage)[number]) =>
    envelope(
      metering.UsageRecorded.type,
      `usage-record-${usage.payload.usageRecordId}`,
      usage.payload,
      usage.payload.hourStart,
      undefined,
    );
  const leaseSigned = (
    leaseId: string,
    committedGpus: allocation.CommittedGpus,
    start: string,
    end: string,
    tenantId = 'tenant-a',
  ) =>
    envelope(
      allocation.LeaseSigned.type,
      'lease-book',
      {
        leaseId,
        tenantId,
        term: { start, end },
        committedGpus,
        exclusivity: 'shared',
        scope: { hallIds: [], rackIds: [] },
        ratePlanId: 'usd-standard',
        signedAt: '2026-10-01T00:00:00.000Z',
        author: 'sales',
      },
      '2026-10-01T00:00:00.000Z',
    );
  const charges = async () =>
    Number((await service.app.get(DataSource).query(`SELECT count(*)::int AS n FROM billing.charges`))[0].n);
  const invoice = async (id = invoiceId) =>
    (await api(service.url).get(`/invoices/${id}`).set(tenantA).expect(200)).body;

  // Event ids are fixed up front so the test can name them (the source events of invoice lines).
  const l1Envelopes = l1Usage.map(usageEnvelope);
  const l2Envelope = usageEnvelope(l2Usage);

  beforeAll(async () => {
    world = await startBillingWorld({ collectBillingEvents: true });
    ({ service, producer } = world);
    collector = world.collector!;
    allocationTopic = topicName(Topics.allocationEvents, service.topicPrefix);
    meteringTopic = topicName(Topics.meteringEvents, service.topicPrefix);
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('rates usage into charges and drafts whose totals match the hand-computed example (usage may arrive before its lease)', async () => {
    // L2's usage comes before its lease: it is held visibly, then rated when the lease arrives.
    await publish(producer, meteringTopic, [l2Envelope]);
    await waitUntil(
      async () => (await api(service.url).get('/usage-holds').set(tenantA)).body.length === 1,
      30_000,
      'a held usage',
    );
    expect((await api(service.url).get('/usage-holds').set(tenantA).expect(200)).body).toEqual([
      expect.objectContaining({ eventId: l2Envelope.eventId, status: 'pending', reason: 'unknown-lease' }),
    ]);
    await publish(producer, allocationTopic, [
      leaseSigned('L1', { H100: 1 }, '2026-11-01T00:00:00.000Z', '2026-11-01T03:00:00.000Z'),
      leaseSigned('L2', { H200: 8 }, '2026-11-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'),
    ]);
    await waitUntil(async () => (await charges()) === 1, 30_000, 'the held usage rated');
    await publish(producer, meteringTopic, l1Envelopes);
    await waitUntil(async () => (await charges()) === 7, 30_000, 'charges');

    const draft = await invoice();
    const termEnd = await invoice(l1InvoiceId);
    for (const [document, totalMinor] of [
      [draft, '1200000'],
      [termEnd, '1704'],
    ]) {
      expect(document).toMatchObject({
        status: 'draft',
        invoiceNumber: null,
        totalMinor,
        currency: { code: 'USD', minorUnitExponent: 2 },
      });
    }
    const amounts = (document: { lines: { lineId: string; amountMinor: string }[] }) =>
      Object.fromEntries(document.lines.map((line) => [line.lineId, line.amountMinor]));
    expect(amounts(termEnd)).toEqual({
      'L1:gpu-usage:H100:250000000': '750',
      'L1:gpu-overage:H100:300000000': '900',
      'L1:energy:12000000': '54',
    });
    expect(amounts(draft)).toEqual({
      'L2:gpu-usage:H200:300000000': '2400',
      'L2:commitment-shortfall:H200': '1197600',
    });
    expect((await api(service.url).get('/usage-holds').set(tenantA).expect(200)).body).toEqual([]);
  });

  it('a redelivered usage event is billed once', async () => {
    // the same event twice (inbox), and the same usage record re-emitted under a new event id (charge ids)
    const reEmitted = { ...l1Envelopes[0], eventId: '01900000-0000-7000-8000-000000000001' };
    await publish(producer, meteringTopic, [l1Envelopes[0], l1Envelopes[0], reEmitted]);
    // A marker behind the redeliveries on the same partition key order: once it is rated, they were handled.
    const marker = usageEnvelope(
      usageRecorded({
        leaseId: 'L1',
        gpuClass: 'H100',
        hourStart: '2026-11-01T00:00:00.000Z',
        gpuSeconds: '0.000',
      }),
    );
    await publish(producer, meteringTopic, [{ ...marker, streamId: l1Envelopes[0].streamId }]);
    await waitUntil(
      async () =>
        (
          await service.app
            .get(DataSource)
            .query(`SELECT 1 FROM billing.inbox WHERE event_id = $1`, [marker.eventId])
        ).length === 1,
      30_000,
      'the marker consumed',
    );
    expect(await charges()).toBe(7);
    expect((await invoice(l1InvoiceId)).totalMinor).toBe('1704');
    expect((await invoice()).totalMinor).toBe('1200000');
  });

  it("tenant B can never read tenant A's invoice", async () => {
    const response = await api(service.url)
      .get(`/invoices/${invoiceId}`)
      .set({ 'x-tenant-id': 'tenant-b' })
      .expect(404);
    expect(response.body.error).toBe('invoice-not-found');
    expect(
      (await api(service.url).get('/invoices').set({ 'x-tenant-id': 'tenant-b' }).expect(200)).body,
    ).toEqual([]);
    await api(service.url).get(`/invoices/${invoiceId}`).expect(400);
  });

  it('finalizes the term-end invoice at term end (number 1), then the monthly one (number 2); lines name their source events', async () => {
    const termEnd = (
      await api(service.url)
        .post(`/invoices/${l1InvoiceId}/finalize`)
        .set(tenantA)
        .send({ finalizedAt: '2026-11-01T03:00:00.000Z' })
        .expect(200)
    ).body;
    expect(termEnd).toMatchObject({ status: 'finalized', invoiceNumber: 1, totalMinor: '1704' });
    const finalized = (
      await api(service.url)
        .post(`/invoices/${invoiceId}/finalize`)
        .set(tenantA)
        .send({ finalizedAt: '2026-12-01T00:00:00.000Z' })
        .expect(200)
    ).body;
    expect(finalized).toMatchObject({ status: 'finalized', invoiceNumber: 2, totalMinor: '1200000' });
    const messages = await collector.waitFor(
      (m) => m.filter((message) => message.headers['event-type'] === 'billing.InvoiceFinalized').length === 2,
    );
    const events = messages
      .filter((message) => message.headers['event-type'] === 'billing.InvoiceFinalized')
      .map((message) => message.value as EventEnvelope);
    expect(events).toEqual([
      expect.objectContaining({
        streamId: `invoice-${l1InvoiceId}`,
        payload: expect.objectContaining({ invoiceNumber: 1, totalMinor: '1704' }),
      }),
      expect.objectContaining({
        streamId: `invoice-${invoiceId}`,
        payload: expect.objectContaining({ invoiceNumber: 2, totalMinor: '1200000' }),
      }),
    ]);

    const sources = (
      await api(service.url)
        .get(`/invoices/${l1InvoiceId}/lines/L1:gpu-overage:H100:300000000/source-events`)
        .set(tenantA)
        .expect(200)
    ).body;
    expect(sources.sourceEventIds).toEqual([l1Envelopes[1].eventId, l1Envelopes[2].eventId]);
    expect(sources.events.map((e: EventEnvelope) => e.type)).toEqual([
      metering.UsageRecorded.type,
      metering.UsageRecorded.type,
    ]);
  });

  it('a finalized invoice cannot be modified: error, nothing written', async () => {
    const dataSource = service.app.get(DataSource);
    const store = service.app.get(EventStore);
    const before = await store.headPosition(dataSource);
    const again = await api(service.url)
      .post(`/invoices/${invoiceId}/finalize`)
      .set(tenantA)
      .send({ finalizedAt: '2026-12-02T00:00:00.000Z' })
      .expect(409);
    expect(again.body).toMatchObject({ error: 'invoice-finalized' });
    const tooMuch = await api(service.url)
      .post(`/invoices/${invoiceId}/credit-notes`)
      .set(tenantA)
      .send({ amountMinor: '1200001', reason: 'goodwill', issuedAt: '2026-12-02T00:00:00.000Z' })
      .expect(422);
    expect(tooMuch.body).toMatchObject({ error: 'credit-exceeds-invoice' });
    expect(await store.headPosition(dataSource)).toBe(before);
    expect((await invoice()).lines).toHaveLength(2);
  });

  it('a correction after finalization yields a credit note, not an edit', async () => {
    const correction = usageCorrected(l1Usage[2], { gpuSeconds: '-3600.000' });
    await publish(producer, meteringTopic, [
      envelope(
        metering.UsageCorrected.type,
        l1Envelopes[2].streamId,
        correction.payload,
        correction.payload.correctedAt,
      ),
    ]);
    await waitUntil(
      async () => (await invoice(l1InvoiceId)).creditNotes.length === 1,
      30_000,
      'a credit note',
    );
    const corrected = await invoice(l1InvoiceId);
    expect(corrected).toMatchObject({ status: 'finalized', invoiceNumber: 1, totalMinor: '1704' });
    expect(
      corrected.lines.find((line: { lineId: string }) => line.lineId === 'L1:gpu-overage:H100:300000000')
        .amountMinor,
    ).toBe('900');
    expect(corrected.creditNotes[0]).toMatchObject({
      creditNoteNumber: 1,
      totalMinor: '-300',
      reason: 'usage-corrected',
      lines: [expect.objectContaining({ lineId: 'L1:gpu-overage:H100:300000000', amountMinor: '-300' })],
    });
    // A credit granted by hand takes the next number in the credit-note series.
    const granted = (
      await api(service.url)
        .post(`/invoices/${l1InvoiceId}/credit-notes`)
        .set(tenantA)
        .send({
          amountMinor: '100',
          reason: 'goodwill for a late report',
          issuedAt: '2026-12-06T00:00:00.000Z',
        })
        .expect(201)
    ).body;
    expect(
      granted.creditNotes.map((note: { creditNoteNumber: number; totalMinor: string }) => [
        note.creditNoteNumber,
        note.totalMinor,
      ]),
    ).toEqual([
      [1, '-300'],
      [2, '-100'],
    ]);
  });

  it('usage of a finalized month that arrives late is billed on the open invoice, never on the final one', async () => {
    const late = usageRecorded({
      leaseId: 'L1',
      gpuClass: 'H100',
      hourStart: '2026-11-01T01:00:00.000Z',
      gpuSeconds: '3600.000',
    });
    const lateEnvelope = envelope(
      metering.UsageRecorded.type,
      'usage-record-late',
      { ...late.payload, usageRecordId: 'late-record', closedAt: '2026-12-03T00:00:00.000Z' },
      '2026-12-03T00:00:00.000Z',
    );
    await publish(producer, meteringTopic, [lateEnvelope]);
    await waitUntil(
      async () => (await api(service.url).get('/invoices/tenant-a.2026-12').set(tenantA)).status === 200,
      30_000,
      'the December draft',
    );
    const december = (await api(service.url).get('/invoices/tenant-a.2026-12').set(tenantA).expect(200)).body;
    // one GPU-hour of November at the base price, on its own prior-period line; L1's term ended in November
    expect(december.lines).toEqual([
      expect.objectContaining({
        lineId: 'L1:gpu-usage:H100:250000000:prior-period',
        amountMinor: '250',
        sourceEventIds: [lateEnvelope.eventId],
      }),
    ]);
    expect((await invoice(l1InvoiceId)).totalMinor).toBe('1704');
  });

  it('usage that no open invoice can take is held visibly, and the consumer goes on', async () => {
    await api(service.url)
      .post('/invoices/tenant-a.2026-12/finalize')
      .set(tenantA)
      // December has not ended on the wall clock (issue #22: 409 period-incomplete), and this story is about
      // usage that arrives for a month that is final: finance forces it, saying why.
      .send({
        finalizedAt: '2026-12-31T00:00:00.000Z',
        force: { reason: 'closed early to show where usage for a final month goes' },
      })
      .expect(200);
    const correction = usageCorrected(l1Usage[0], { gpuSeconds: '3600.000' }, 2);
    const raised = envelope(
      metering.UsageCorrected.type,
      l1Envelopes[0].streamId,
      { ...correction.payload, correctedAt: '2026-12-20T00:00:00.000Z' },
      '2026-12-20T00:00:00.000Z',
    );
    await publish(producer, meteringTopic, [raised]);
    await waitUntil(
      async () => (await api(service.url).get('/usage-holds').set(tenantA)).body.length === 1,
      30_000,
      'the held correction',
    );
    expect((await api(service.url).get('/usage-holds').set(tenantA)).body).toEqual([
      expect.objectContaining({ eventId: raised.eventId, status: 'pending', reason: 'invoice-finalized' }),
    ]);
  });

  it('two invoices finalized at the same time take consecutive numbers: no gap, no duplicate', async () => {
    const tenants = ['tenant-c', 'tenant-d'];
    await publish(
      producer,
      allocationTopic,
      tenants.map((tenantId) =>
        leaseSigned(
          `lease-${tenantId}`,
          {},
          '2026-11-01T00:00:00.000Z',
          '2026-12-01T00:00:00.000Z',
          tenantId,
        ),
      ),
    );
    await publish(
      producer,
      meteringTopic,
      tenants.map((tenantId) =>
        usageEnvelope(
          usageRecorded({
            leaseId: `lease-${tenantId}`,
            tenantId,
            gpuClass: 'H100',
            hourStart: '2026-11-05T00:00:00.000Z',
            gpuSeconds: '3600.000',
          }),
        ),
      ),
    );
    for (const tenantId of tenants) {
      await waitUntil(
        async () =>
          (await api(service.url).get(`/invoices/${tenantId}.2026-11`).set({ 'x-tenant-id': tenantId }))
            .status === 200,
        30_000,
        'drafts',
      );
    }
    const finalized = await Promise.all(
      tenants.map((tenantId) =>
        api(service.url)
          .post(`/invoices/${tenantId}.2026-11/finalize`)
          .set({ 'x-tenant-id': tenantId })
          .send({ finalizedAt: '2026-12-01T00:00:00.000Z' }),
      ),
    );
    expect(finalized.map((response) => response.status)).toEqual([200, 200]);
    // 1: L1's term-end invoice, 2: tenant-a November, 3: tenant-a December
    expect(finalized.map((response) => response.body.invoiceNumber).sort()).toEqual([4, 5]);
    expect(finalized.map((response) => response.body.totalMinor)).toEqual(['300', '300']);
  });

  it('rebuilds the invoice read model from the log to the same rows, event by event and in batches', async () => {
    // Scratch schemas for the rebuilds: only the administrator may create schemas.
    const dataSource = await service.db.adminDataSource();
    const store = service.app.get(EventStore);
    const applyOnly: Projection = { ...invoicesProjection, applyBatch: undefined };
    const rebuilds: [string, Projection, number | undefined][] = [
      ['billing_rebuild_inv_apply', applyOnly, undefined],
      ['billing_rebuild_inv_1', invoicesProjection, 1],
      ['billing_rebuild_inv_7', invoicesProjection, 7],
      ['billing_rebuild_inv_default', invoicesProjection, undefined],
    ];
    for (const [targetSchema, projection, batchSize] of rebuilds) {
      await rebuildProjection(dataSource, store, projection, { targetSchema, batchSize });
      const comparison = await compareProjection(dataSource, projection, 'billing', targetSchema);
      expect([targetSchema, comparison.filter((table) => !table.equal)]).toEqual([targetSchema, []]);
      // charges and the finalized invoices' lines are there to compare
      for (const table of ['invoices', 'charges', 'invoice_lines']) {
        expect(comparison.find((t) => t.table === table)?.liveRows).toBeGreaterThan(0);
      }
    }
  });

  it('serves its OpenAPI document', async () => {
    const doc = await api(service.url).get('/docs/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/invoices',
        '/invoices/{invoiceId}',
        '/invoices/{invoiceId}/finalize',
        '/invoices/{invoiceId}/credit-notes',
        '/rate-plans',
      ]),
    );
  });
});
