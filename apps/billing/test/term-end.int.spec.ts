import { allocation, metering, Topics, topicName } from '@fleetledger/contracts';
import { api, TestService, waitUntil } from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { envelope, publish } from './envelopes';
import { usageCorrected, usageRecorded } from './fixtures';
import { BillingWorld, startBillingWorld } from './billing-world';

/**
 * A term-end invoice on real Kafka and PostgreSQL, when an amendment moves the term end into the current month
 * after some usage of the month was already on the monthly invoice:
 *   lease T (tenant-t): 1 committed H100 from Nov 1 2026 for a year; 2 GPU-h on Nov 2 -> monthly invoice.
 *   amended on Nov 10: the term ends Nov 21 (20 of November's 30 days).
 *   1 GPU-h on Nov 12 -> T's term-end invoice tenant-t.2026-11.T.
 *   a correction of Nov 2 (-1 GPU-h) follows its original charge to the monthly invoice.
 * The commitment is billed once, on the term-end invoice: minimum 1,000.00 x 20/30 = 666.67, of which 2.50 used.
 * The monthly invoice bills T's 1 remaining GPU-h at the base price, outside the commitment: 2.50.
 */
describe('term-end invoices against real Kafka and PostgreSQL', () => {
  let world: BillingWorld;
  let service: TestService;
  let producer: Producer;
  const tenant = { 'x-tenant-id': 'tenant-t' };
  const term = { start: '2026-11-01T00:00:00.000Z', end: '2027-11-01T00:00:00.000Z' };
  const amendedTerm = { start: term.start, end: '2026-11-21T00:00:00.000Z' };
  const usage = (hourStart: string, gpuSeconds: string) =>
    usageRecorded({ leaseId: 'T', tenantId: 'tenant-t', gpuClass: 'H100', hourStart, gpuSeconds });
  const early = usage('2026-11-02T00:00:00.000Z', '7200.000');
  const late = usage('2026-11-12T00:00:00.000Z', '3600.000');
  const correction = usageCorrected(early, { gpuSeconds: '-3600.000' });
  const usageEnvelope = (record: typeof early) =>
    envelope(
      metering.UsageRecorded.type,
      `usage-record-${record.payload.usageRecordId}`,
      record.payload,
      record.payload.hourStart,
    );
  const lines = async (invoiceId: string) => {
    const response = await api(service.url).get(`/invoices/${invoiceId}`).set(tenant);
    if (response.status !== 200) return undefined;
    return {
      totalMinor: response.body.totalMinor as string,
      amounts: Object.fromEntries(
        (response.body.lines as { lineId: string; amountMinor: string }[]).map((line) => [
          line.lineId,
          line.amountMinor,
        ]),
      ),
    };
  };

  beforeAll(async () => {
    world = await startBillingWorld();
    ({ service, producer } = world);
  });

  afterAll(async () => {
    await world?.stop();
  });

  it('bills the commitment once, on the term-end invoice; a correction follows its original to the monthly invoice', async () => {
    const allocationTopic = topicName(Topics.allocationEvents, service.topicPrefix);
    const meteringTopic = topicName(Topics.meteringEvents, service.topicPrefix);
    const dataSource = service.app.get(DataSource);
    const leaseEnd = async () =>
      (
        await dataSource.query(
          `SELECT terms->>'contractEndMs' AS end FROM billing.leases WHERE lease_id = 'T'`,
        )
      )[0]?.end as string | undefined;

    await publish(producer, allocationTopic, [
      envelope(
        allocation.LeaseSigned.type,
        'lease-book',
        {
          leaseId: 'T',
          tenantId: 'tenant-t',
          term,
          committedGpus: { H100: 1 },
          exclusivity: 'shared',
          scope: { hallIds: [], rackIds: [] },
          ratePlanId: 'usd-standard',
          signedAt: '2026-10-01T00:00:00.000Z',
          author: 'sales',
        },
        '2026-10-01T00:00:00.000Z',
      ),
    ]);
    await waitUntil(async () => (await leaseEnd()) !== undefined, 30_000, 'the lease');
    await publish(producer, meteringTopic, [usageEnvelope(early)]);
    await waitUntil(async () => (await lines('tenant-t.2026-11')) !== undefined, 30_000, 'the monthly draft');

    await publish(producer, allocationTopic, [
      envelope(
        allocation.LeaseAmended.type,
        'lease-book',
        {
          leaseId: 'T',
          tenantId: 'tenant-t',
          term: amendedTerm,
          committedGpus: { H100: 1 },
          scope: { hallIds: [], rackIds: [] },
          ratePlanId: 'usd-standard',
          previous: { term, committedGpus: { H100: 1 }, ratePlanId: 'usd-standard' },
          effectiveAt: '2026-11-10T00:00:00.000Z',
          reason: 'early exit agreed',
          author: 'sales',
        },
        '2026-11-10T00:00:00.000Z',
      ),
    ]);
    await waitUntil(
      async () => (await leaseEnd()) === String(Date.parse(amendedTerm.end)),
      30_000,
      'the amendment',
    );
    await publish(producer, meteringTopic, [usageEnvelope(late)]);
    await waitUntil(
      async () => (await lines('tenant-t.2026-11.T')) !== undefined,
      30_000,
      'the term-end draft',
    );
    await publish(producer, meteringTopic, [
      envelope(
        metering.UsageCorrected.type,
        `usage-record-${early.payload.usageRecordId}`,
        correction.payload,
        correction.payload.correctedAt,
      ),
    ]);
    await waitUntil(
      async () => (await dataSource.query(`SELECT count(*)::int AS n FROM billing.charges`))[0].n === 3,
      30_000,
      'the correction rated',
    );

    expect(await lines('tenant-t.2026-11')).toEqual({
      totalMinor: '250',
      amounts: { 'T:gpu-usage:H100:250000000:outside-commitment': '250' },
    });
    expect(await lines('tenant-t.2026-11.T')).toEqual({
      totalMinor: '66667',
      amounts: { 'T:gpu-usage:H100:250000000': '250', 'T:commitment-shortfall:H100': '66417' },
    });

    // The term-end invoice is finalized at term end, under the next gap-free number.
    const finalized = (
      await api(service.url)
        .post('/invoices/tenant-t.2026-11.T/finalize')
        .set(tenant)
        .send({ finalizedAt: amendedTerm.end })
        .expect(200)
    ).body;
    expect(finalized).toMatchObject({ status: 'finalized', invoiceNumber: 1, totalMinor: '66667' });
  });

  it('a correction of late usage that was billed on a later month follows it there, instead of crediting the final month', async () => {
    const tenantU = { 'x-tenant-id': 'tenant-u' };
    const allocationTopic = topicName(Topics.allocationEvents, service.topicPrefix);
    const meteringTopic = topicName(Topics.meteringEvents, service.topicPrefix);
    const dataSource = service.app.get(DataSource);
    const invoiceOf = async (invoiceId: string) => {
      const response = await api(service.url).get(`/invoices/${invoiceId}`).set(tenantU);
      return response.status === 200 ? response.body : undefined;
    };
    const record = (hourStart: string) =>
      usageRecorded({
        leaseId: 'U',
        tenantId: 'tenant-u',
        gpuClass: 'H100',
        hourStart,
        gpuSeconds: '3600.000',
      });
    await publish(producer, allocationTopic, [
      envelope(
        allocation.LeaseSigned.type,
        'lease-book',
        {
          leaseId: 'U',
          tenantId: 'tenant-u',
          term,
          committedGpus: {},
          exclusivity: 'shared',
          scope: { hallIds: [], rackIds: [] },
          ratePlanId: 'usd-standard',
          signedAt: '2026-10-01T00:00:00.000Z',
          author: 'sales',
        },
        '2026-10-01T00:00:00.000Z',
      ),
    ]);
    await waitUntil(
      async () => (await dataSource.query(`SELECT 1 FROM billing.leases WHERE lease_id = 'U'`)).length === 1,
      30_000,
      'the lease',
    );
    await publish(producer, meteringTopic, [usageEnvelope(record('2026-11-03T00:00:00.000Z'))]);
    await waitUntil(async () => (await invoiceOf('tenant-u.2026-11')) !== undefined, 30_000, 'November');
    await api(service.url)
      .post('/invoices/tenant-u.2026-11/finalize')
      .set(tenantU)
      .send({ finalizedAt: '2026-12-01T00:00:00.000Z' })
      .expect(200);

    // November 4 arrives on December 2: November is final, so it is billed on December (prior-period line)
    const late = record('2026-11-04T00:00:00.000Z');
    late.payload.closedAt = '2026-12-02T00:00:00.000Z';
    await publish(producer, meteringTopic, [usageEnvelope(late)]);
    await waitUntil(async () => (await invoiceOf('tenant-u.2026-12')) !== undefined, 30_000, 'December');
    expect((await invoiceOf('tenant-u.2026-12')).totalMinor).toBe('250');

    // ...and its correction to zero goes to December too: no credit note on November
    const correction = usageCorrected(late, { gpuSeconds: '-3600.000' });
    await publish(producer, meteringTopic, [
      envelope(
        metering.UsageCorrected.type,
        `usage-record-${late.payload.usageRecordId}`,
        correction.payload,
        correction.payload.correctedAt,
      ),
    ]);
    await waitUntil(
      async () => (await invoiceOf('tenant-u.2026-12')).totalMinor === '0',
      30_000,
      'the correction on December',
    );
    const november = await invoiceOf('tenant-u.2026-11');
    expect(november).toMatchObject({ status: 'finalized', totalMinor: '300', creditNotes: [] });
  });
});
