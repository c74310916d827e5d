import { allocation, EventEnvelope, metering, Topics, topicName } from '@fleetledger/contracts';
import { createEventStoreMigration, runInTransaction } from '@fleetledger/eventstore';
import { serviceAudience } from '@fleetledger/platform';
import { api, httpAs, TestService, testToken, waitUntil } from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { explainInvoice, formatExplanation, summarizeExplanation } from '../apps/audit/src/explain';
import { BillingWorld, startBillingWorld } from '../apps/billing/test/billing-world';
import { envelope, publish } from '../apps/billing/test/envelopes';
import { usageCorrected, usageRecorded, usdPlan } from '../apps/billing/test/fixtures';

/**
 * Issue #15.7, lineage exact and readable: `audit explain invoice N` of a final invoice lists only what billing
 * had when it finalized, shows a correction the commitment absorbed, and prints a summary per line by default.
 *
 * The world: billing on real Kafka and PostgreSQL; allocation's and metering's logs (their `events` tables in
 * the same database, as the audit role sees them in production) hold the events the test publishes for them.
 *   lease X (tenant-x): 1 committed H100 for a year from Nov 1 2026 (minimum 1,000.00 a month).
 *   Nov 2: 2 H100-hours (5.00). Finalized Dec 1: 5.00 usage + 995.00 shortfall = 1,000.00.
 *   After finalization: the lease's workload is released, the lease is amended, the rate plan gets a version 2,
 *   and metering corrects Nov 2 by -1 GPU-hour: the minimum absorbs it (no credit note).
 */
describe('audit explain: exact, readable lineage (issue #15.7)', () => {
  let world: BillingWorld;
  let service: TestService;
  let producer: Producer;
  let admin: DataSource;
  let dataSource: DataSource;
  const logs = new Map<string, number>();
  const term = { start: '2026-11-01T00:00:00.000Z', end: '2027-11-01T00:00:00.000Z' };
  const tenant = { 'x-tenant-id': 'tenant-x' };

  /** Appends an event to a producing service's log (allocation, metering) the way that service would. */
  async function record(schema: 'allocation' | 'metering', event: EventEnvelope) {
    const position = (logs.get(schema) ?? 0) + 1;
    logs.set(schema, position);
    await admin.query(
      `INSERT INTO ${schema}.events (global_position, event_id, stream_id, stream_version, type, schema_version, payload, metadata, occurred_at, recorded_at, prev_hash, hash)
       VALUES ($1::bigint, $2, $3, $1::int, $4, 1, $5, $6, $7, now(), repeat('0', 64), repeat('0', 64))`,
      [
        position,
        event.eventId,
        event.streamId,
        event.type,
        JSON.stringify(event.payload),
        JSON.stringify({
          principal: { subject: `service:${schema}`, issuer: 'fleetledger:service', roles: ['service'] },
        }),
        event.occurredAt,
      ],
    );
  }
  async function emit(schema: 'allocation' | 'metering', events: EventEnvelope[]) {
    for (const event of events) await record(schema, event);
    const topic = schema === 'allocation' ? Topics.allocationEvents : Topics.meteringEvents;
    await publish(producer, topicName(topic, service.topicPrefix), events);
  }
  const leaseEvent = (type: string, payload: object, at: string) => envelope(type, 'lease-X', payload, at);
  const usage = usageRecorded({
    leaseId: 'X',
    tenantId: 'tenant-x',
    gpuClass: 'H100',
    hourStart: '2026-11-02T00:00:00.000Z',
    gpuSeconds: '7200.000',
  });
  const usageEnvelope = envelope(
    metering.UsageRecorded.type,
    `usage-record-${usage.payload.usageRecordId}`,
    usage.payload,
    usage.payload.hourStart,
  );
  const signed = leaseEvent(
    allocation.LeaseSigned.type,
    {
      leaseId: 'X',
      tenantId: 'tenant-x',
      term,
      committedGpus: { H100: 1 },
      exclusivity: 'shared',
      scope: { hallIds: [], rackIds: [] },
      ratePlanId: 'usd-standard',
      signedAt: '2026-10-01T00:00:00.000Z',
      author: 'sales',
    },
    '2026-10-01T00:00:00.000Z',
  );

  beforeAll(async () => {
    world = await startBillingWorld();
    ({ service, producer } = world);
    dataSource = service.app.get(DataSource);
    admin = await service.db.adminDataSource();
    for (const [schema, timestamp] of [
      ['allocation', 1764000000001],
      ['metering', 1764000000002],
    ] as const) {
      const migration = createEventStoreMigration(schema, timestamp);
      await runInTransaction(admin, (tx) => new migration().up(tx.queryRunner!));
    }
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('a final invoice lists only what it was finalized with, notes the absorbed correction, and summarizes by default', async () => {
    // Build the world: the lease, its usage, the invoice finalized by finance.
    await emit('allocation', [signed]);
    await waitUntil(
      async () => (await dataSource.query(`SELECT 1 FROM billing.leases WHERE lease_id = 'X'`)).length === 1,
      30_000,
      'the lease',
    );
    await emit('metering', [usageEnvelope]);
    await waitUntil(
      async () =>
        (await dataSource.query(`SELECT 1 FROM billing.charges WHERE invoice_id = 'tenant-x.2026-11'`))
          .length > 0,
      30_000,
      'the usage rated',
    );
    const finance = httpAs(
      service.url,
      await testToken({ roles: ['finance'], subject: 'finance-bob', audience: serviceAudience('billing') }),
    );
    const finalized = (
      await finance
        .post('/invoices/tenant-x.2026-11/finalize')
        .set(tenant)
        .send({ finalizedAt: '2026-12-01T00:00:00.000Z' })
        .expect(200)
    ).body;
    expect(finalized).toMatchObject({ status: 'finalized', totalMinor: '100000' });

    // After finalization: a workload of the lease is released, the lease amended, a plan version published,
    // and a correction lowers the usage (absorbed by the minimum).
    const released = leaseEvent(
      allocation.WorkloadReleased.type,
      { leaseId: 'X', tenantId: 'tenant-x', releasedAt: '2026-12-02T00:00:00.000Z' },
      '2026-12-02T00:00:00.000Z',
    );
    await record('allocation', released);
    const amended = leaseEvent(
      allocation.LeaseAmended.type,
      {
        leaseId: 'X',
        tenantId: 'tenant-x',
        term,
        committedGpus: { H100: 2 },
        scope: { hallIds: [], rackIds: [] },
        ratePlanId: 'usd-standard',
        previous: { term, committedGpus: { H100: 1 }, ratePlanId: 'usd-standard' },
        effectiveAt: '2026-12-03T00:00:00.000Z',
        reason: 'more',
        author: 'sales',
      },
      '2026-12-03T00:00:00.000Z',
    );
    await emit('allocation', [amended]);
    await api(service.url)
      .post('/rate-plans')
      .send({
        plan: usdPlan({ version: 2, effectiveFrom: '2027-01-01T00:00:00.000Z' }),
        publishedAt: '2026-12-04T00:00:00.000Z',
      })
      .expect(201);
    const correction = usageCorrected(usage, { gpuSeconds: '-3600.000' });
    await emit('metering', [
      envelope(
        metering.UsageCorrected.type,
        `usage-record-${usage.payload.usageRecordId}`,
        correction.payload,
        correction.payload.correctedAt,
        correction.eventId.length === 36 ? correction.eventId : undefined,
      ),
    ]);
    await waitUntil(
      async () =>
        (await dataSource.query(`SELECT 1 FROM billing.events WHERE type = 'billing.CorrectionAbsorbed'`))
          .length === 1,
      30_000,
      'the correction absorbed',
    );
    const invoice = (await api(service.url).get('/invoices/tenant-x.2026-11').set(tenant).expect(200)).body;
    expect(invoice).toMatchObject({ totalMinor: '100000', creditNotes: [] });

    // Observe: the explanation.
    const explanation = await explainInvoice(admin, finalized.invoiceNumber);
    const finalization = explanation.finalization!;
    expect(finalization.type).toBe('billing.InvoiceFinalized');
    const everyListed = explanation.lines.flatMap((line) => [
      ...line.sources.flatMap((s) => ('missing' in s.event ? [] : [s.event, ...s.placements])),
      ...line.lease,
      ...line.ratePlan,
    ]);
    expect(everyListed.map((e) => e.type)).not.toContain('allocation.WorkloadReleased');
    expect(everyListed.map((e) => e.eventId)).not.toContain(amended.eventId);
    for (const e of everyListed.filter((e) => e.service === 'billing'))
      expect(e.globalPosition).toBeLessThanOrEqual(finalization.globalPosition);
    const shortfall = explanation.lines.find((line) => line.kind === 'commitment-shortfall')!;
    expect(shortfall.lease.map((e) => e.eventId)).toEqual([signed.eventId]);
    expect(shortfall.ratePlan.map((e) => e.payload.version)).toEqual([1]);
    const usageLine = explanation.lines.find((line) => line.kind === 'gpu-usage')!;
    expect(usageLine.sources.map((s) => s.event)).toEqual([
      expect.objectContaining({ service: 'metering', eventId: usageEnvelope.eventId }),
    ]);
    // The correction after finalization is on the invoice as a note, and in its history with who caused it.
    expect(explanation.absorbedCorrections).toEqual([
      expect.objectContaining({ milliGpuSeconds: '-3600000' }),
    ]);
    expect(explanation.history.map((e) => e.type)).toEqual([
      'billing.InvoiceDrafted',
      'billing.InvoiceFinalized',
      'billing.CorrectionAbsorbed',
    ]);

    // Readable: a summary per line by default, every id with --full, JSON for machines.
    const text = formatExplanation(explanation);
    expect(text).toContain('note: correction of -1.000 GPU-h absorbed by the commitment');
    expect(text).toMatch(/InvoiceFinalized: billing#\d+ .* by finance-bob \[finance\] for tenant-x/);
    expect(text).toMatch(/sources: 1 \(metering\.UsageRecorded x1\)/);
    expect(text).toMatch(/lease events: 1 \(allocation\.LeaseSigned x1\)/);
    expect(text.split('\n').length).toBeLessThan(20);
    expect(formatExplanation(explanation, { full: true })).toContain(`source metering#`);
    const summary = JSON.parse(JSON.stringify(summarizeExplanation(explanation)));
    expect(summary.notes).toEqual(['correction of -1.000 GPU-h absorbed by the commitment']);
    expect(summary.lines.find((l: { kind: string }) => l.kind === 'gpu-usage')).toMatchObject({
      amountMinor: '500',
      sources: { count: 1, missing: 0, byType: { 'metering.UsageRecorded': 1 } },
      lease: { count: 1, first: { eventId: signed.eventId, type: 'allocation.LeaseSigned' } },
    });
  });
});
