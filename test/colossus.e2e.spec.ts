import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serviceAudience, SERVICE_NAMES } from '@fleetledger/platform';
import { testToken } from '@fleetledger/testing';
import { CallerRole, ServiceClient } from '../scripts/colossus/client';
import { DEAL_CHANGES, QUOTA_SHARES, rampShare, ROUTES, WorkloadClass } from '../scripts/colossus/plan';
import { runColossusWithReport, RunOutcome } from '../scripts/colossus/run';
import { ENERGY_PRICE_PER_KWH_MICRO_MINOR, milli, PRICES, TENANT } from '../scripts/colossus/scenario';
import { openInChromium } from './e2e/chromium';
import { FlowServices, startFlowServices } from './e2e/flow-services';

/**
 * The Colossus month at CI size (`npm run colossus -- --days 1 --gpus 2000 --speed high`) against the four
 * services on real Kafka and PostgreSQL: the deal's story must hold: every placement on a class its product is
 * routed to (or a recorded fallback), the deal day's x2 and x15 as quota events with their effect, the training
 * class following the ramp, a finalized invoice that a recomputation from metered usage reproduces, finance's
 * audit passing, and the report opening in Chromium with every chart.
 */
const MONTH = '2027-02';

describe('the Colossus month, CI size: one day, ~2,000 GPUs, as fast as the services answer', () => {
  let services: FlowServices;
  let outcome: RunOutcome;
  const events = (type: string) =>
    services
      .dataSource()
      .query(`SELECT payload FROM allocation.events WHERE type = $1 ORDER BY global_position`, [type])
      .then((rows: { payload: Record<string, unknown> }[]) => rows.map((r) => r.payload));

  beforeAll(async () => {
    services = await startFlowServices();
    const mint = (role: CallerRole) =>
      testToken({ roles: [role], subject: `colossus-${role}`, audience: SERVICE_NAMES.map(serviceAudience) });
    const client = new ServiceClient(
      {
        inventory: services.inventory.url,
        allocation: services.allocation.url,
        metering: services.metering.url,
        billing: services.billing.url,
      },
      {
        operator: await mint('operator'),
        finance: await mint('finance'),
        'telemetry-agent': await mint('telemetry-agent'),
      },
    );
    outcome = await runColossusWithReport({
      client,
      month: MONTH,
      days: 1,
      gpus: 2000,
      seed: 17,
      speed: 'max',
      sampleBudget: 30_000,
      concurrency: 4,
      auditDatabaseUrl: services.db.auditUrl,
      reportFile: path.join(mkdtempSync(path.join(tmpdir(), 'fl-colossus-')), 'report.html'),
      log: (line) => process.stdout.write(`[colossus] ${line}\n`),
    });
  }, 900_000);

  afterAll(async () => {
    await services?.stop();
  }, 120_000);

  it('places every workload on a class its product is routed to, and records why when it fell back', async () => {
    const placed = (await events('allocation.WorkloadPlaced')) as {
      workloadClass: WorkloadClass;
      gpuClass: string;
      routing?: { requestedClass: string; reason: string };
    }[];
    expect(placed.length).toBeGreaterThan(50);
    const offPolicy = placed.filter((p) => !ROUTES[p.workloadClass].includes(p.gpuClass as never));
    expect(offPolicy).toEqual([]);
    const fallbacksWithoutReason = placed.filter(
      (p) => p.gpuClass !== ROUTES[p.workloadClass][0] && !p.routing?.reason.startsWith('fallback'),
    );
    expect(fallbacksWithoutReason).toEqual([]);
    // each product mostly on its own class
    for (const workloadClass of ['inference', 'agentic', 'training'] as const) {
      const own = placed.filter((p) => p.workloadClass === workloadClass);
      const first = own.filter((p) => p.gpuClass === ROUTES[workloadClass][0]);
      expect([workloadClass, first.length > own.length / 2]).toEqual([workloadClass, true]);
    }
  });

  it("records the deal day's x2 and x15 as quota events, and inference grows past its old limit after them", async () => {
    const changes = (await events('allocation.QuotaChanged')) as {
      gpuClass: string;
      workloadClass: string;
      nominal: number;
      previous: { nominal: number };
      change: { kind: string; factor?: number };
      changedAt: string;
      reason: string;
    }[];
    const { result } = outcome;
    for (const deal of DEAL_CHANGES) {
      const event = changes.find((c) => c.change.kind === 'multiply' && c.change.factor === deal.factor);
      expect(event).toMatchObject({
        gpuClass: deal.gpuClass,
        workloadClass: deal.workloadClass,
        reason: deal.reason,
        changedAt: new Date(result.plan.dealAtMs).toISOString(),
      });
      expect(event!.nominal).toBe(Math.floor(event!.previous.nominal * deal.factor));
    }
    // Before the deal, inference asked for more than its quota: some submissions waited or were refused for it.
    const beforeDeal = result.decisions.filter(
      (d) => d.workloadClass === 'inference' && d.outcome !== 'placed',
    );
    expect(beforeDeal.some((d) => d.reason === 'quota')).toBe(true);
    // After it, inference holds more GB200 GPUs than the old limit allowed.
    const oldLimit = Math.floor(
      QUOTA_SHARES.find((q) => q.workloadClass === 'inference' && q.gpuClass === 'GB200')!.share *
        result.fleet.GB200,
    );
    const inferencePlaced = (await events('allocation.WorkloadPlaced')).filter(
      (p) =>
        p.workloadClass === 'inference' &&
        p.gpuClass === 'GB200' &&
        Date.parse(p.placedAt as string) >= result.plan.dealAtMs,
    );
    expect(inferencePlaced.reduce((n, p) => n + (p.gpuIds as string[]).length, 0)).toBeGreaterThan(oldLimit);
  });

  it('H100 (training, no limit in the way) follows the 40% -> 85% ramp hour by hour', () => {
    const { result } = outcome;
    const hours = result.utilizationHourly.filter(
      (u) =>
        u.gpuClass === 'H100' &&
        Date.parse(u.hourStart) < result.plan.endMs &&
        u.allocatedShareOfHealthy !== null,
    );
    expect(hours.length).toBe(24);
    const deviations = hours.map((u) =>
      Math.abs(
        u.allocatedShareOfHealthy! -
          rampShare(
            { startMs: result.plan.startMs, endMs: result.plan.plannedEndMs },
            Date.parse(u.hourStart) + 1_800_000,
          ),
      ),
    );
    const mean = deviations.reduce((a, b) => a + b, 0) / deviations.length;
    expect(mean).toBeLessThan(0.12);
    const first = hours[0].allocatedShareOfHealthy!;
    const last = hours[hours.length - 1].allocatedShareOfHealthy!;
    expect(last - first).toBeGreaterThan(0.2);
  });

  it('finalizes the invoice, and a recomputation from the metered usage and the deal prices gives its lines', () => {
    const { result } = outcome;
    const invoice = result.invoice;
    expect(invoice.status).toBe('finalized');
    expect(invoice.invoiceNumber).not.toBeNull();
    expect(BigInt(invoice.totalMinor)).toBe(invoice.lines.reduce((n, l) => n + BigInt(l.amountMinor), 0n));
    for (const gpuClass of ['H100', 'H200', 'GB200'] as const) {
      const usage = invoice.lines.filter((l) => l.gpuClass === gpuClass && l.kind === 'gpu-usage');
      const quantity = usage.reduce((n, l) => n + BigInt(l.quantity), 0n);
      // all of it within the commitment (the lease commits every GPU for the month): billed at the class price
      expect([gpuClass, quantity]).toEqual([
        gpuClass,
        milli(result.meteringTotals[gpuClass].gpuSecondsAllocated),
      ]);
      const expected = (quantity * PRICES[gpuClass].perHour) / 3_600_000_000_000n;
      const billed = usage.reduce((n, l) => n + BigInt(l.amountMinor), 0n);
      expect([gpuClass, Number(billed - expected) ** 2 <= usage.length ** 2]).toEqual([gpuClass, true]);
      // take-or-pay: the lease commits every GPU for the whole month, so the rest of the minimum is a shortfall
      const minimum = BigInt(result.fleet[gpuClass]) * PRICES[gpuClass].monthlyFeeMinor;
      const shortfall = invoice.lines.filter(
        (l) => l.gpuClass === gpuClass && l.kind === 'commitment-shortfall',
      );
      expect([gpuClass, shortfall.reduce((n, l) => n + BigInt(l.amountMinor), 0n)]).toEqual([
        gpuClass,
        minimum - billed,
      ]);
    }
    // energy passes through at the plan's price per kWh, on what metering measured for every class
    const energy = invoice.lines.filter((l) => l.kind === 'energy');
    const energyMilliWh = energy.reduce((n, l) => n + BigInt(l.quantity), 0n);
    expect(energyMilliWh).toBe(
      Object.values(result.meteringTotals).reduce((n, t) => n + milli(t.energyWh), 0n),
    );
    expect(energyMilliWh).toBeGreaterThan(0n);
    const energyExpected = (energyMilliWh * ENERGY_PRICE_PER_KWH_MICRO_MINOR) / 1_000_000_000_000n;
    const energyBilled = energy.reduce((n, l) => n + BigInt(l.amountMinor), 0n);
    expect(Number(energyBilled - energyExpected) ** 2 <= energy.length ** 2).toBe(true);
    // a one-day run uses far less than a month's commitment: the shortfall is billed
    expect(invoice.lines.some((l) => l.kind === 'commitment-shortfall')).toBe(true);
    expect(outcome.figures.invoice.lines).toHaveLength(invoice.lines.length);
    expect(result.invoiceId).toBe(`${TENANT}.${MONTH}`);
  });

  it('took telemetry from every allocated GPU, sampled down by the factor it states', () => {
    const { result } = outcome;
    expect(result.samples.sent).toBeGreaterThan(1000);
    expect(result.samples.rejected).toBe(0);
    expect(result.samples.accepted).toBe(result.samples.sent);
    expect(result.plan.samplingFactor).toBe(result.plan.sampleIntervalMs / 10_000);
    expect(outcome.figures.run.samplingFactor).toBe(result.plan.samplingFactor);
    // GPU failures and a rack drain happened, and evicted running work that was placed again or queued
    expect(result.incidents.filter((i) => i.kind === 'rack-drain')).toHaveLength(1);
    expect(result.incidents.filter((i) => i.kind === 'gpu-failures').length).toBeGreaterThan(0);
    expect(result.incidents.flatMap((i) => i.evicted).length).toBeGreaterThan(0);
  });

  it("finance's audit passes: verify, replay and reconcile exit 0", () => {
    expect(outcome.audit.map((a) => [a.command, a.exitCode])).toEqual([
      ['audit verify', 0],
      ['audit replay', 0],
      [`audit reconcile --period ${MONTH}`, 0],
    ]);
  });

  it('the report opens in headless Chromium with every chart, the invoice lines and the sampling factor', () => {
    const { dom, png } = openInChromium(outcome.reportFile, outcome.reportFile.replace(/\.html$/, '.png'));
    for (const id of ['chart-utilization', 'chart-latency', 'chart-rejections', 'chart-power'])
      expect([id, new RegExp(`<svg id="${id}" class="chart"`).test(dom)]).toEqual([id, true]);
    expect((dom.match(/<polyline class="series"/g) ?? []).length).toBe(3);
    const invoiceRows =
      dom.slice(dom.indexOf('id="table-invoice"')).split('</table>')[0].match(/<tr>/g) ?? [];
    expect(invoiceRows.length).toBe(outcome.result.invoice.lines.length + 1);
    expect(dom).toContain(`sampled down ${outcome.result.plan.samplingFactor}x`);
    expect((dom.match(/class="source"/g) ?? []).length).toBeGreaterThanOrEqual(8);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });
});
