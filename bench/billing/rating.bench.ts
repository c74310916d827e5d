// Billing benchmark, pure path: one month (November 2026, 720 hours) of hourly usage records for
// 1,000 leases x 3 GPU classes = 2,160,000 records, rated into charges, put on draft invoices through the
// invoice decide/evolve functions, and finalized (lines, commitments, overage, rounding).
// No database, no Kafka: this measures the billing logic itself. Prints figures; asserts nothing.
//   node -r @swc-node/register bench/billing/rating.bench.ts [--leases 1000] [--leases-per-tenant 10]
import os from 'node:os';
import type { billing, metering } from '@fleetledger/contracts';
import {
  decideInvoice,
  evolveInvoice,
  initialInvoiceState,
  InvoiceEvent,
  InvoiceState,
  NewInvoiceEvent,
} from '../../apps/billing/src/domain/invoice';
import { LeaseTerms } from '../../apps/billing/src/domain/leases';
import { ChargeRated, invoiceIdFor, rateUsage } from '../../apps/billing/src/domain/rating';
import { RatePlanVersion } from '../../apps/billing/src/domain/rate-plans';

const arg = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
};
const LEASES = arg('leases', 1000);
const LEASES_PER_TENANT = arg('leases-per-tenant', 10);
const CLASSES = ['H100', 'H200', 'GB200'] as const;
const COMMITTED: Record<(typeof CLASSES)[number], number> = { H100: 8, H200: 8, GB200: 72 };
const PERIOD = '2026-11';
const MONTH_START = Date.parse('2026-11-01T00:00:00.000Z');
const HOURS = 720;

const plan: RatePlanVersion = {
  ratePlanId: 'bench',
  version: 1,
  effectiveFrom: '2026-01-01T00:00:00.000Z',
  currency: { code: 'USD', minorUnitExponent: 2 },
  classes: [
    {
      gpuClass: 'H100',
      pricePerGpuHourMicroMinor: '249750000',
      overagePricePerGpuHourMicroMinor: '299700000',
      committedMonthlyFeePerGpuMinor: '150000',
    },
    {
      gpuClass: 'H200',
      pricePerGpuHourMicroMinor: '314900000',
      overagePricePerGpuHourMicroMinor: '377880000',
      committedMonthlyFeePerGpuMinor: '200000',
    },
    {
      gpuClass: 'GB200',
      pricePerGpuHourMicroMinor: '499990000',
      overagePricePerGpuHourMicroMinor: '599988000',
      committedMonthlyFeePerGpuMinor: '330000',
    },
  ],
  energyPricePerKwhMicroMinor: '11875000',
  slaCreditTiers: [{ availabilityBelowBasisPoints: 9990, creditBasisPoints: 1000 }],
  rounding: 'half-even-per-line',
};

/** Deterministic usage shape: between 60 % and 125 % of the commitment, so some leases pay overage, some a shortfall. */
function usageShare(lease: number, gpuClass: number, hour: number): number {
  const x = Math.sin(lease * 12.9898 + gpuClass * 78.233 + hour * 0.37) * 43758.5453;
  return 0.6 + 0.65 * (x - Math.floor(x));
}

const milli = (value: number) => {
  const thousandths = Math.round(value * 1000);
  return `${Math.floor(thousandths / 1000)}.${String(thousandths % 1000).padStart(3, '0')}`;
};

function usageOf(
  leaseIndex: number,
  tenantId: string,
): { eventId: string; payload: metering.UsageRecordedPayload }[] {
  const records = [];
  const leaseId = `lease-${leaseIndex}`;
  for (let c = 0; c < CLASSES.length; c++) {
    const gpuClass = CLASSES[c];
    for (let hour = 0; hour < HOURS; hour++) {
      const hourStart = new Date(MONTH_START + hour * 3_600_000).toISOString();
      const gpuSeconds = COMMITTED[gpuClass] * 3600 * usageShare(leaseIndex, c, hour);
      records.push({
        eventId: `${leaseId}-${c}-${hour}`,
        payload: {
          usageRecordId: `${leaseId}|${gpuClass}|${hourStart}`,
          leaseId,
          tenantId,
          gpuClass,
          hourStart,
          closedAt: hourStart,
          sources: { sampleDigest: '0000000000000000', placementEventIds: [] },
          gpuSecondsAllocated: milli(gpuSeconds),
          gpuSecondsBusy: milli(gpuSeconds * 0.9),
          energyWh: milli((gpuSeconds / 3600) * 700),
          sampleCount: 360,
        },
      });
    }
  }
  return records;
}

function apply(state: InvoiceState, events: NewInvoiceEvent[], ids: { next: number }): InvoiceState {
  let current = state;
  for (const event of events)
    current = evolveInvoice(current, {
      type: event.type,
      payload: event.payload,
      eventId: `e${ids.next++}`,
    } as InvoiceEvent);
  return current;
}

function main() {
  const tenants = Math.ceil(LEASES / LEASES_PER_TENANT);
  const ids = { next: 1 };
  let records = 0;
  let charges = 0;
  let lines = 0;
  let grandTotal = 0n;
  let generateMs = 0;
  let rateMs = 0;
  let finalizeMs = 0;
  // CPU time next to wall time: on a shared 2-core machine wall time mostly measures the neighbours.
  let rateCpuMs = 0;
  let finalizeCpuMs = 0;
  const cpuMs = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  const started = performance.now();

  for (let t = 0; t < tenants; t++) {
    const tenantId = `tenant-${t}`;
    const leaseIndexes = Array.from(
      { length: LEASES_PER_TENANT },
      (_, i) => t * LEASES_PER_TENANT + i,
    ).filter((i) => i < LEASES);
    const leases: LeaseTerms[] = leaseIndexes.map((i) => ({
      leaseId: `lease-${i}`,
      tenantId,
      ratePlanId: 'bench',
      // every tenth lease starts mid-month: proration at term start
      term: {
        startMs:
          i % 10 === 0 ? Date.parse('2026-11-16T00:00:00.000Z') : Date.parse('2026-01-01T00:00:00.000Z'),
        endMs: Date.parse('2027-01-01T00:00:00.000Z'),
      },
      committedGpus: { ...COMMITTED },
      sourceEventIds: [`signed-${i}`],
    }));

    let t0 = performance.now();
    const usage = leaseIndexes.flatMap((i) => usageOf(i, tenantId));
    generateMs += performance.now() - t0;
    records += usage.length;

    t0 = performance.now();
    let c0 = cpuMs();
    const rated: ChargeRated[] = [];
    for (const record of usage) {
      const result = rateUsage(record, [plan]);
      if (!Array.isArray(result)) throw new Error(result.detail);
      for (const charge of result) rated.push(charge);
    }
    const invoiceId = invoiceIdFor(tenantId, PERIOD);
    const decision = decideInvoice(initialInvoiceState(), {
      kind: 'rate-charges',
      invoiceId,
      tenantId,
      period: PERIOD,
      charges: rated,
    });
    if (!Array.isArray(decision)) throw new Error(decision.detail);
    const draft = apply(initialInvoiceState(), decision, ids);
    rateMs += performance.now() - t0;
    rateCpuMs += cpuMs() - c0;
    charges += rated.length;

    t0 = performance.now();
    c0 = cpuMs();
    const finalized = decideInvoice(draft, {
      kind: 'finalize',
      invoiceNumber: t + 1,
      finalizedAt: '2026-12-01T00:00:00.000Z',
      context: { leases, planVersions: () => [plan] },
    });
    if (!Array.isArray(finalized)) throw new Error(finalized.detail);
    const invoice = finalized.find((event) => event.type === 'billing.InvoiceFinalized')!
      .payload as billing.InvoiceFinalizedPayload;
    finalizeMs += performance.now() - t0;
    finalizeCpuMs += cpuMs() - c0;
    lines += invoice.lines.length;
    grandTotal += BigInt(invoice.totalMinor);
  }

  const totalMs = performance.now() - started;
  const row = (name: string, value: string) => process.stdout.write(`${name.padEnd(44)} ${value}\n`);
  row('leases x classes x hours', `${LEASES} x ${CLASSES.length} x ${HOURS}`);
  row('usage records', records.toLocaleString('en-US'));
  row('charges rated (GPU time + energy)', charges.toLocaleString('en-US'));
  row('invoices finalized (tenants)', tenants.toLocaleString('en-US'));
  row('invoice lines', lines.toLocaleString('en-US'));
  row(
    'grand total (USD)',
    Number(grandTotal / 100n).toLocaleString('en-US') + '.' + String(grandTotal % 100n).padStart(2, '0'),
  );
  row('generate usage (bench input)', `${(generateMs / 1000).toFixed(2)} s`);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  row(
    'rate + draft (decide/evolve), wall / cpu',
    `${s(rateMs)} / ${s(rateCpuMs)}  ${Math.round(records / (rateMs / 1000)).toLocaleString('en-US')} records/s wall`,
  );
  row('finalize (lines, commitments), wall / cpu', `${s(finalizeMs)} / ${s(finalizeCpuMs)}`);
  row(
    'rate + finalize, wall / cpu',
    `${s(rateMs + finalizeMs)} / ${s(rateCpuMs + finalizeCpuMs)}  (target < 60 s)`,
  );
  row('load average (1 min) at end', os.loadavg()[0].toFixed(1));
  row('wall clock incl. generation', `${(totalMs / 1000).toFixed(2)} s`);
  row('heap used at end', `${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`);
}

main();
