// Billing benchmark, persisted path: the service's own handlers (UsageRater -> InvoiceHandler -> BillingStore)
// rate usage records one event per inbox row, as the Kafka consumer does, appending ChargeRated events to the
// hash-chained event store with outbox rows and inline projections, then finalize every invoice.
// Kafka is left out (the relay publishes afterwards, off this path). Runs on the real PostgreSQL
// (DATABASE_URL, default the local server) in a throw-away database. Prints figures; asserts nothing.
//   node -r @swc-node/register bench/billing/persisted.bench.ts [--leases 20] [--leases-per-tenant 10] [--batch 500]
import 'reflect-metadata';
import { EventEnvelope, metering, servicePrincipal } from '@fleetledger/contracts';
import { EventStore, runInTransaction } from '@fleetledger/eventstore';
import type { Messaging, Metrics } from '@fleetledger/platform';
import { TestDatabase } from '@fleetledger/testing';
import { billingService } from '../../apps/billing/src/billing.options';
import { BillingStore } from '../../apps/billing/src/handlers/billing-store';
import { InvoiceHandler } from '../../apps/billing/src/handlers/invoice.handler';
import { UsageRater } from '../../apps/billing/src/handlers/usage-rater';
import { invoiceIdFor } from '../../apps/billing/src/domain/rating';
import { usdPlan } from '../../apps/billing/test/fixtures';

const arg = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const LEASES = arg('leases', 20);
const LEASES_PER_TENANT = arg('leases-per-tenant', 10);
const BATCH = arg('batch', 500);
/**
 * per-event: one inbox row and one rating per usage event (`handle`, the consumer without a batch hook).
 * batched: what the consumer does now: one inbox insert per batch and `UsageRater.handleBatch` (one decision and
 * one append per invoice).
 */
const BATCHED = process.argv.includes('--batched');
const CLASSES = ['H100', 'H200'] as const;
const HOURS = 720;
const MONTH_START = Date.parse('2026-11-01T00:00:00.000Z');
const FULL_RECORDS = 1000 * 3 * HOURS;

let sequence = 0;
function envelope(type: string, streamId: string, payload: unknown, occurredAt: string): EventEnvelope {
  sequence += 1;
  const eventId = `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`;
  return {
    eventId,
    type,
    schemaVersion: 1,
    streamId,
    streamVersion: 1,
    globalPosition: sequence,
    occurredAt,
    recordedAt: occurredAt,
    correlationId: 'bench',
    payload,
  };
}

async function main() {
  process.env.TEST_ADMIN_DATABASE_URL ??=
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = await TestDatabase.create('fl_billing_bench');
  const dataSource = await db.dataSource(billingService.migrations, 4);
  const store = new EventStore('billing', billingService.registry, {
    principal: () => servicePrincipal('bench'),
  });
  const messaging = { eventsTopic: 'bench.billing.events.v1' } as Messaging;
  const metrics = { eventsAppended: { inc: () => undefined } } as unknown as Metrics;
  const billing = new BillingStore(store, messaging, metrics);
  const invoices = new InvoiceHandler(dataSource, billing);
  const rater = new UsageRater(billing, invoices);
  const consume = async (events: EventEnvelope[]) =>
    runInTransaction(dataSource, async (tx) => {
      for (const event of events) {
        await tx.query(
          `INSERT INTO billing.inbox (consumer, event_id, topic, partition, kafka_offset, envelope) VALUES ('bench', $1, 'bench', 0, $2, $3)`,
          [event.eventId, String(event.globalPosition), JSON.stringify(event)],
        );
        await rater.handle(event, tx);
      }
    });

  try {
    await runInTransaction(dataSource, (tx) =>
      billing.append(
        tx,
        [
          {
            streamId: 'rate-plan-usd-standard',
            expectedVersion: 0,
            events: [
              {
                type: 'billing.RatePlanPublished',
                payload: usdPlan(),
                occurredAt: '2026-10-01T00:00:00.000Z',
              },
            ],
          },
        ],
        { correlationId: 'bench' },
      ),
    );
    const tenants = new Set<string>();
    const leases = Array.from({ length: LEASES }, (_, i) => {
      const tenantId = `tenant-${Math.floor(i / LEASES_PER_TENANT)}`;
      tenants.add(tenantId);
      return envelope(
        'allocation.LeaseSigned',
        'lease-book',
        {
          leaseId: `lease-${i}`,
          tenantId,
          term: { start: '2026-01-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' },
          committedGpus: { H100: 8, H200: 8 },
          exclusivity: 'shared',
          scope: { hallIds: [], rackIds: [] },
          ratePlanId: 'usd-standard',
          signedAt: '2026-01-01T00:00:00.000Z',
          author: 'bench',
        },
        '2026-01-01T00:00:00.000Z',
      );
    });
    await consume(leases);

    const usage: EventEnvelope[] = [];
    for (let lease = 0; lease < LEASES; lease++) {
      const tenantId = `tenant-${Math.floor(lease / LEASES_PER_TENANT)}`;
      for (const gpuClass of CLASSES) {
        for (let hour = 0; hour < HOURS; hour++) {
          const hourStart = new Date(MONTH_START + hour * 3_600_000).toISOString();
          const payload: metering.UsageRecordedPayload = {
            usageRecordId: `lease-${lease}|${gpuClass}|${hourStart}`,
            leaseId: `lease-${lease}`,
            tenantId,
            gpuClass,
            hourStart,
            closedAt: hourStart,
            sources: { sampleDigest: '0000000000000000', placementEventIds: [] },
            gpuSecondsAllocated: `${25_000 + ((lease * 31 + hour * 7) % 6_000)}.250`,
            gpuSecondsBusy: '20000.000',
            energyWh: '5600.125',
            sampleCount: 360,
          };
          usage.push(
            envelope('metering.UsageRecorded', `usage-record-${payload.usageRecordId}`, payload, hourStart),
          );
        }
      }
    }

    let started = performance.now();
    if (!BATCHED) {
      for (let i = 0; i < usage.length; i += BATCH) await consume(usage.slice(i, i + BATCH));
    } else {
      for (let i = 0; i < usage.length; i += BATCH) {
        const events = usage.slice(i, i + BATCH);
        await runInTransaction(dataSource, async (tx) => {
          await tx.query(
            `INSERT INTO billing.inbox (consumer, event_id, topic, partition, kafka_offset, envelope)
             SELECT 'bench', e, 'bench', 0, o, v FROM unnest($1::uuid[], $2::bigint[], $3::jsonb[]) AS t(e, o, v)`,
            [
              events.map((event) => event.eventId),
              events.map((event) => String(event.globalPosition)),
              events.map((event) => JSON.stringify(event)),
            ],
          );
          await rater.handleBatch(events, tx);
        });
      }
    }
    const rateMs = performance.now() - started;

    started = performance.now();
    for (const tenantId of tenants)
      await invoices.finalize(tenantId, invoiceIdFor(tenantId, '2026-11'), '2026-12-01T00:00:00.000Z', {
        correlationId: 'bench',
      });
    const finalizeMs = performance.now() - started;

    const [{ events }] = await dataSource.query(`SELECT count(*)::int AS events FROM billing.events`);
    const [{ lines }] = await dataSource.query(`SELECT count(*)::int AS lines FROM billing.invoice_lines`);
    const perSecond = usage.length / (rateMs / 1000);
    const row = (name: string, value: string) => process.stdout.write(`${name.padEnd(46)} ${value}\n`);
    row('leases x classes x hours', `${LEASES} x ${CLASSES.length} x ${HOURS}`);
    row('usage records consumed (inbox + rate + append)', usage.length.toLocaleString('en-US'));
    row('events in the billing log', Number(events).toLocaleString('en-US'));
    row(
      `rate, persisted (${BATCHED ? 'batched per invoice' : 'per event'})`,
      `${(rateMs / 1000).toFixed(2)} s  ${Math.round(perSecond).toLocaleString('en-US')} records/s (${BATCH} per transaction)`,
    );
    row('finalize invoices', `${tenants.size} in ${(finalizeMs / 1000).toFixed(2)} s  (${lines} lines)`);
    row('extrapolated to 2,160,000 records', `${(FULL_RECORDS / perSecond).toFixed(0)} s of rating`);
  } finally {
    await dataSource.destroy();
    await db.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack}\n`);
  process.exit(1);
});
