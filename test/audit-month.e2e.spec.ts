import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runInTransaction, tableChecksum } from '@fleetledger/eventstore';
import { api, waitUntil } from '@fleetledger/testing';
import { explainInvoice } from '../apps/audit/src/explain';
import { writeReport } from '../apps/audit/src/report';
import {
  diffInvoiceTotals,
  invoiceTotals,
  reconcileServices,
  replayServices,
} from '../apps/audit/src/replay';
import { auditedServices } from '../apps/audit/src/services';
import { verifyAll } from '../apps/audit/src/verify';
import { openInChromium } from './e2e/chromium';
import { FLEET_GPUS, flowFleet, nodeOfGpu } from './e2e/fleet';
import { FlowServices, startFlowServices } from './e2e/flow-services';
import {
  allocatedGpuSeconds,
  DOUBLING_DAY,
  generateMonth,
  GeneratedJob,
  hourOf,
  MONTH,
  RACK_FAILURE_DAY,
  RACK_FAILURE_HOUR,
  timeline,
} from './e2e/month';

/**
 * The finance audit over a generated month (March 2026) of the whole platform on real Kafka and PostgreSQL:
 * two leases, a quota doubling, ~100 placements and releases, a rack failure that evicts a running job,
 * telemetry with late samples, invoices finalized, then a late release that lowers a final invoice (a credit
 * note). Then what finance runs: verify, replay + reconcile, replay --as-of, explain, report; and verify again
 * after one stored event is altered.
 */
const RATE_PLAN = 'rp-month';
const PRICE = { H100: 250_000_000n, H200: 300_000_000n, GB200: 600_000_000n }; // micro-minor per GPU-hour
const ENERGY_PRICE = 12_000_000n; // micro-minor per kWh
const POWER_W = { H100: 720, H200: 720, GB200: 1080 }; // 10 s samples: 2, 2 and 3 Wh
const LEASES = { acme: 'lease-acme', borealis: 'lease-borealis' } as const;
const INVOICE = { acme: `acme.${MONTH}`, borealis: `borealis.${MONTH}` } as const;

const ratePlan = {
  ratePlanId: RATE_PLAN,
  version: 1,
  effectiveFrom: '2026-01-01T00:00:00.000Z',
  currency: { code: 'USD', minorUnitExponent: 2 },
  classes: (['H100', 'H200', 'GB200'] as const).map((gpuClass) => ({
    gpuClass,
    pricePerGpuHourMicroMinor: PRICE[gpuClass].toString(),
    overagePricePerGpuHourMicroMinor: ((PRICE[gpuClass] * 6n) / 5n).toString(),
    committedMonthlyFeePerGpuMinor: '0',
  })),
  energyPricePerKwhMicroMinor: ENERGY_PRICE.toString(),
  slaCreditTiers: [{ availabilityBelowBasisPoints: 9990, creditBasisPoints: 1000 }],
  rounding: 'half-even-per-line',
};

/** A job that was still running when March closed, and whose end (22:00) is reported only after finalization. */
const OVERRUN: GeneratedJob = {
  workloadId: 'acme-infer-overrun',
  tenantId: 'acme',
  workloadClass: 'inference',
  gpuClass: 'GB200',
  gpuCount: 8,
  topology: 'same-nvlink-domain',
  start: hourOf(31, 20),
  end: hourOf(31, 22),
};

interface Segment {
  job: GeneratedJob;
  gpuIds: string[];
  from: string;
  to: string;
}

const isOverrun = (segment: Segment) => segment.job.workloadId === OVERRUN.workloadId;

interface Sample {
  sampleId: string;
  gpuId: string;
  nodeId: string;
  sampledAt: string;
  utilization: number;
  powerW: number;
}

describe('audit over a generated month: leases, quota doubling, placements, rack failure, late samples, credit note', () => {
  let services: FlowServices;
  const jobs = generateMonth(2026);
  /** Who held which GPUs when, as allocation answered: the samples are generated from it. */
  const segments: Segment[] = [];
  const openSegment = new Map<string, Segment>();
  let failedRack = '';
  let failedGpus: string[] = [];
  let evictedPlacement = '';
  let samples: Sample[] = [];
  let lateSamples: Sample[] = [];
  /** What billing showed before the late samples and before finalization: replay --as-of must reproduce it. */
  let visibleBefore: {
    at: string;
    totals: Record<string, string>;
    charges: { rows: number; checksum: string };
  };
  let finalTotals: Record<string, string>;

  const inventory = () => api(services.inventory.url);
  const allocation = () => api(services.allocation.url);
  const metering = () => api(services.metering.url);
  const billing = () => api(services.billing.url);
  const invoice = async (tenant: 'acme' | 'borealis') =>
    (await billing().get(`/invoices/${INVOICE[tenant]}`).set({ 'x-tenant-id': tenant }).expect(200)).body as {
      status: string;
      invoiceNumber: number | null;
      totalMinor: string;
      lines: { kind: string; gpuClass?: string; quantity: string; amountMinor: string; leaseId: string }[];
      creditNotes: { totalMinor: string; lines: { amountMinor: string }[] }[];
    };
  const placementOf = async (tenantId: string, workloadId: string) =>
    (
      (await allocation().get('/placements').query({ tenantId }).expect(200)).body as {
        workloadId: string;
        placementId: string;
        gpuIds: string[];
      }[]
    ).find((p) => p.workloadId === workloadId);

  beforeAll(async () => {
    services = await startFlowServices();
  }, 120_000);

  afterAll(async () => {
    await services?.stop();
  }, 60_000);

  it('sets up the fleet, the rate plan, two leases and their quotas', async () => {
    await inventory().post('/fleet/import').send(flowFleet).expect(200);
    await waitUntil(
      async () => {
        const utilization = (await allocation().get('/utilization')).body as { healthy: number }[];
        return utilization.reduce((n, u) => n + u.healthy, 0) === 168;
      },
      60_000,
      'allocation to learn the fleet',
    );
    await billing()
      .post('/rate-plans')
      .send({ plan: ratePlan, publishedAt: '2026-01-01T00:00:00.000Z' })
      .expect(201);
    const leases = [
      { tenantId: 'acme', committedGpus: { H100: 32, GB200: 36 } },
      { tenantId: 'borealis', committedGpus: { H200: 16 } },
    ] as const;
    for (const lease of leases) {
      const leaseId = LEASES[lease.tenantId];
      await allocation()
        .post('/leases')
        .send({
          leaseId,
          tenantId: lease.tenantId,
          term: { start: '2026-03-01T00:00:00.000Z', end: '2027-03-01T00:00:00.000Z' },
          committedGpus: lease.committedGpus,
          exclusivity: 'shared',
          ratePlanId: RATE_PLAN,
          author: 'sales',
          at: '2026-02-20T00:00:00.000Z',
        })
        .expect(201);
      await allocation()
        .post(`/leases/${leaseId}/activate`)
        .send({ author: 'ops', at: '2026-02-20T00:00:00.000Z' })
        .expect(201);
    }
    const quota = (path_: string, nominal: number) =>
      allocation()
        .post(`/quotas/${path_}`)
        .send({
          change: { kind: 'set', nominal, borrowLimit: 0 },
          reason: 'initial',
          author: 'capacity',
          at: hourOf(1, 0),
        })
        .expect(201);
    expect((await quota('acme/H100/training', 8)).body).toMatchObject({ nominal: 8 });
    expect((await quota('acme/GB200/inference', 16)).body).toMatchObject({ nominal: 16 });
    expect((await quota('borealis/H200/agentic', 8)).body).toMatchObject({ nominal: 8 });
  });

  it('runs the month: every job placed on its class, the quota doubled on day 10, a rack failure evicts and re-places', async () => {
    const doublingAt = hourOf(DOUBLING_DAY, 0);
    const failureAt = hourOf(RACK_FAILURE_DAY, RACK_FAILURE_HOUR);
    const repairAt = hourOf(RACK_FAILURE_DAY + 1, 0);
    let doubled = false;
    let failed = false;
    let repaired = false;

    for (const step of timeline([...jobs, { ...OVERRUN, end: '9999-12-31T00:00:00.000Z' }])) {
      if (!doubled && step.at >= doublingAt) {
        doubled = true;
        const response = await allocation()
          .post('/quotas/acme/H100/training')
          .send({
            change: { kind: 'multiply', factor: 2 },
            reason: 'limits doubled',
            author: 'capacity',
            at: doublingAt,
          })
          .expect(201);
        expect(response.body).toMatchObject({ nominal: 16, previous: { nominal: 8 } });
      }
      if (!failed && step.at > failureAt) {
        failed = true;
        await failRackUnder('acme', `acme-train-${String(RACK_FAILURE_DAY).padStart(2, '0')}`, failureAt);
      }
      if (!repaired && step.at >= repairAt) {
        repaired = true;
        await repairRack(repairAt);
      }
      if (step.kind === 'release' && step.job.workloadId === OVERRUN.workloadId) continue; // reported after finalization
      if (step.kind === 'submit') {
        const placed = await allocation()
          .post('/workloads')
          .send({
            workloadId: step.job.workloadId,
            tenantId: step.job.tenantId,
            workloadClass: step.job.workloadClass,
            gpuCount: step.job.gpuCount,
            gang: true,
            ...(step.job.topology ? { topology: step.job.topology } : {}),
            priority: 10,
            requestedAt: step.at,
          })
          .expect(201);
        expect(placed.body).toMatchObject({
          outcome: 'placed',
          gpuClass: step.job.gpuClass,
          leaseId: LEASES[step.job.tenantId],
        });
        const segment = { job: step.job, gpuIds: placed.body.gpuIds, from: step.at, to: step.job.end };
        segments.push(segment);
        openSegment.set(step.job.workloadId, segment);
      } else {
        await allocation()
          .post(`/workloads/${step.job.workloadId}/release`)
          .send({ requestedAt: step.at })
          .expect(200);
        openSegment.delete(step.job.workloadId);
      }
    }
    expect([doubled, failed, repaired]).toEqual([true, true, true]);
    // After the doubling, 16-GPU training jobs ran: impossible under the initial quota of 8.
    expect(segments.filter((s) => s.job.workloadClass === 'training' && s.gpuIds.length === 16).length).toBe(
      31 - DOUBLING_DAY + 1 + 1, // days 10..31, and the re-placement after the rack failure
    );
    expect(jobs.filter((j) => j.gpuCount === 16)).toHaveLength(31 - DOUBLING_DAY + 1);
  });

  /** The rack under a running job fails: the operator drains it and inventory marks its GPUs failed. */
  async function failRackUnder(tenantId: string, workloadId: string, at: string) {
    const before = (await placementOf(tenantId, workloadId))!;
    failedRack = before.gpuIds[0].replace(/-n\d+-g\d+$/, '');
    evictedPlacement = before.placementId;
    await inventory()
      .post(`/racks/${failedRack}/drain`)
      .send({ reason: 'rack failure: coolant leak', occurredAt: at })
      .expect(200);
    let after: Awaited<ReturnType<typeof placementOf>>;
    await waitUntil(
      async () => {
        after = await placementOf(tenantId, workloadId);
        return after !== undefined && after.placementId !== before.placementId;
      },
      60_000,
      'allocation to evict and re-place the job on the failed rack',
    );
    expect(after!.gpuIds.some((id) => id.startsWith(failedRack))).toBe(false);
    failedGpus = before.gpuIds;
    for (const gpuId of failedGpus)
      await inventory()
        .post(`/gpus/${gpuId}/health`)
        .send({ health: 'failed', reason: 'coolant leak', occurredAt: at })
        .expect(200);
    const open = openSegment.get(workloadId)!;
    open.to = at;
    const replaced = { job: open.job, gpuIds: after!.gpuIds, from: at, to: open.job.end };
    segments.push(replaced);
    openSegment.set(workloadId, replaced);
  }

  async function repairRack(at: string) {
    for (const gpuId of failedGpus)
      await inventory()
        .post(`/gpus/${gpuId}/health`)
        .send({ health: 'healthy', reason: 'repaired', occurredAt: at })
        .expect(200);
    await inventory()
      .post(`/racks/${failedRack}/undrain`)
      .send({ reason: 'repaired', occurredAt: at })
      .expect(200);
    await waitUntil(
      async () => {
        const utilization = (await allocation().get('/utilization')).body as {
          gpuClass: string;
          healthy: number;
        }[];
        return utilization.find((u) => u.gpuClass === 'H100')?.healthy === FLEET_GPUS.H100;
      },
      60_000,
      'allocation to see the repaired rack',
    );
  }

  it('meters the month: allocated time from placements, samples once each, every record closed', async () => {
    // One sample per GPU at half past each hour it was held; the overrun job really ran 20:00-22:00.
    const all: Sample[] = [];
    for (const segment of segments) {
      const to = isOverrun(segment) ? OVERRUN.end : segment.to;
      for (let t = Date.parse(segment.from) + 30 * 60_000; t < Date.parse(to); t += 3_600_000) {
        for (const gpuId of segment.gpuIds) {
          all.push({
            sampleId: `${gpuId}@${new Date(t).toISOString()}`,
            gpuId,
            nodeId: nodeOfGpu(gpuId),
            sampledAt: new Date(t).toISOString(),
            utilization: 0.5,
            powerW: POWER_W[segment.job.gpuClass],
          });
        }
      }
    }
    // The first sample of each borealis job of days 2-5 is held back: it arrives after its hour closed.
    lateSamples = ['02', '03', '04', '05'].map((dd) => {
      const segment = segments.find((g) => g.job.workloadId === `borealis-agent-${dd}`)!;
      return all.find((s) => s.gpuId === segment.gpuIds[0] && s.sampledAt >= segment.from)!;
    });
    samples = all.filter((s) => !lateSamples.includes(s));
    const accepted = await metering().post('/metering/samples').send({ samples }).expect(200);
    expect(accepted.body).toMatchObject({ accepted: samples.length, duplicates: 0, rejected: [] });
    await waitUntil(
      async () => (await metering().get('/metering/samples/pending').expect(200)).body.unattributed === 0,
      60_000,
      'metering to attribute every sample (placements arrive over Kafka)',
    );

    // Every (lease, class, hour) that held a GPU is one record, the overrun's open hours 20-23 included.
    const hours = new Set<string>();
    for (const segment of segments) {
      const to = isOverrun(segment) ? hourOf(32, 0) : segment.to;
      for (let t = Date.parse(segment.from); t < Date.parse(to); t += 3_600_000)
        hours.add(
          `${segment.job.tenantId}/${segment.job.gpuClass}/${new Date(t - (t % 3_600_000)).toISOString()}`,
        );
    }
    const closed = await metering()
      .post('/metering/windows/close')
      .send({ asOf: '2026-04-01T00:05:00.000Z' })
      .expect(200);
    expect(closed.body).toMatchObject({ recorded: hours.size, corrected: 0 });

    const expected = allocatedGpuSeconds([...jobs, { ...OVERRUN, end: hourOf(32, 0) }]);
    for (const [key, seconds] of Object.entries(expected)) {
      const [tenantId, gpuClass] = key.split('/');
      const usage = (await metering().get('/metering/usage').query({ tenantId, gpuClass }).expect(200)).body;
      expect([key, usage.totals.gpuSecondsAllocated]).toEqual([key, `${seconds}.000`]);
    }
  });

  it('billing drafts both invoices from the usage; what they showed is kept for the as-of replay', async () => {
    const expected = allocatedGpuSeconds([...jobs, { ...OVERRUN, end: hourOf(32, 0) }]);
    const usageMatches = async (tenant: 'acme' | 'borealis') => {
      const lines = (await invoice(tenant)).lines.filter((l) => l.kind === 'gpu-usage');
      return Object.entries(expected)
        .filter(([key]) => key.startsWith(`${tenant}/`))
        .every(([key, seconds]) =>
          lines.some((l) => l.gpuClass === key.split('/')[1] && l.quantity === String(seconds * 1000)),
        );
    };
    await waitUntil(
      async () =>
        (await usageMatches('acme').catch(() => false)) &&
        (await usageMatches('borealis').catch(() => false)),
      120_000,
      'billing to rate every usage record',
    );
    const totals: Record<string, string> = {};
    for (const tenant of ['acme', 'borealis'] as const) {
      const draft = await invoice(tenant);
      expect(draft.status).toBe('draft');
      // Each usage line is the allocated GPU-hours at the class price, rounded once (half even).
      for (const line of draft.lines.filter((l) => l.kind === 'gpu-usage')) {
        const milliGpuSeconds = BigInt(line.quantity);
        const exact = milliGpuSeconds * PRICE[line.gpuClass as keyof typeof PRICE];
        expect([line.gpuClass, BigInt(line.amountMinor)]).toEqual([
          line.gpuClass,
          exact / 3_600_000_000_000n,
        ]);
      }
      expect(draft.totalMinor).toBe(
        draft.lines.reduce((sum, l) => sum + BigInt(l.amountMinor), 0n).toString(),
      );
      totals[INVOICE[tenant]] = draft.totalMinor;
    }
    visibleBefore = {
      at: new Date().toISOString(),
      totals,
      charges: await tableChecksum(services.dataSource(), 'billing', 'charges'),
    };
    await new Promise((resolve) => setTimeout(resolve, 20)); // what follows is recorded strictly later
  });

  it('late samples correct closed hours before finalization; finalized invoices include them', async () => {
    const late = await metering().post('/metering/samples').send({ samples: lateSamples }).expect(200);
    expect(late.body).toMatchObject({ accepted: lateSamples.length, duplicates: 0 });
    const lateHours = new Set(lateSamples.map((s) => s.sampledAt.slice(0, 13)));
    const corrected = await metering()
      .post('/metering/windows/close')
      .send({ asOf: '2026-04-01T00:06:00.000Z' })
      .expect(200);
    expect(corrected.body).toMatchObject({ recorded: 0, corrected: lateHours.size });

    const energyWh = (tenant: string) =>
      [...samples, ...lateSamples]
        .filter((s) => segments.some((g) => g.job.tenantId === tenant && g.gpuIds.includes(s.gpuId)))
        .reduce((wh, s) => wh + (s.powerW * 10) / 3600, 0);
    await waitUntil(
      async () => {
        const energy = (await invoice('borealis')).lines.find((l) => l.kind === 'energy');
        return energy?.quantity === String(Math.round(energyWh('borealis') * 1000));
      },
      60_000,
      'billing to rate the corrections',
    );
    // Issue #22: finalize once billing knows March is complete (metering closed through April 1 on every partition).
    for (const tenant of ['acme', 'borealis'] as const)
      await waitUntil(
        async () => {
          const draft = await billing().get(`/invoices/${INVOICE[tenant]}`).set({ 'x-tenant-id': tenant });
          return draft.body.complete === true && draft.body.finalizable === true;
        },
        60_000,
        `billing to see March complete for ${tenant}`,
      );
    finalTotals = {};
    for (const tenant of ['acme', 'borealis'] as const) {
      const finalized = await billing()
        .post(`/invoices/${INVOICE[tenant]}/finalize`)
        .set({ 'x-tenant-id': tenant })
        .send({ finalizedAt: '2026-04-02T00:00:00.000Z' })
        .expect(200);
      expect(finalized.body.status).toBe('finalized');
      finalTotals[INVOICE[tenant]] = finalized.body.totalMinor;
    }
  });

  it('a late release lowers a final invoice: metering corrects two hours, billing issues a credit note', async () => {
    await allocation()
      .post(`/workloads/${OVERRUN.workloadId}/release`)
      .send({ requestedAt: OVERRUN.end })
      .expect(200);
    await waitUntil(
      async () => {
        const [row] = await services
          .dataSource()
          .query(`SELECT end_at FROM metering.placements WHERE workload_id = $1 AND end_at IS NOT NULL`, [
            OVERRUN.workloadId,
          ]);
        return row !== undefined;
      },
      60_000,
      'metering to learn the late release',
    );
    const corrected = await metering()
      .post('/metering/windows/close')
      .send({ asOf: '2026-04-01T00:07:00.000Z' })
      .expect(200);
    expect(corrected.body).toMatchObject({ recorded: 0, corrected: 2 }); // 22:00 and 23:00 on March 31

    let acme = await invoice('acme');
    await waitUntil(
      async () => {
        acme = await invoice('acme');
        return acme.creditNotes.length === 2;
      },
      60_000,
      'billing to issue a credit note per corrected hour',
    ).catch(async (error) => {
      const holds = (await billing().get('/usage-holds')).body;
      const events = await services
        .dataSource()
        .query(`SELECT type, payload FROM billing.events ORDER BY global_position DESC LIMIT 5`);
      throw new Error(`${error.message}: ${JSON.stringify({ holds, events }).slice(0, 4000)}`);
    });
    // One credit note per corrected hour: 8 GB200 GPUs x 1 hour x 6.00 USD = 48.00 USD back each; the final
    // invoice itself is unchanged.
    expect(acme.creditNotes.map((note) => note.totalMinor)).toEqual(['-4800', '-4800']);
    expect(acme).toMatchObject({ status: 'finalized', totalMinor: finalTotals[INVOICE.acme] });
  });

  it('audit verify: every chain whole, every published event consumed exactly once by each subscriber', async () => {
    let report = await verifyAll(services.dataSource(), auditedServices);
    await waitUntil(
      async () => {
        report = await verifyAll(services.dataSource(), auditedServices);
        return report.ok;
      },
      60_000,
      'every consumer to catch up',
    ).catch(() => undefined);
    expect(report.chains.map((c) => [c.service, c.verification.ok])).toEqual([
      ['inventory', true],
      ['allocation', true],
      ['metering', true],
      ['billing', true],
    ]);
    expect(report.deliveries.filter((d) => d.missing.length > 0 || d.unknown.length > 0)).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('audit replay + reconcile: every table equal, and the invoice totals reprinted from the replay are the live ones', async () => {
    const db = services.dataSource();
    await replayServices(db, auditedServices);
    const reconciled = await reconcileServices(db, auditedServices);
    expect(reconciled.flatMap((r) => r.differences)).toEqual([]);
    expect(reconciled.flatMap((r) => r.tables).filter((t) => !t.equal)).toEqual([]);
    const replayed = await invoiceTotals(db, 'billing_replay', MONTH);
    expect(Object.fromEntries(replayed.map((i) => [i.invoiceId, [i.status, i.totalMinor]]))).toEqual({
      [INVOICE.acme]: ['finalized', finalTotals[INVOICE.acme]],
      [INVOICE.borealis]: ['finalized', finalTotals[INVOICE.borealis]],
    });
    expect(diffInvoiceTotals(await invoiceTotals(db, 'billing', MONTH), replayed)).toEqual([]);
  });

  it('audit replay --as-of reproduces the drafts and the totals billing showed at that moment', async () => {
    const db = services.dataSource();
    await replayServices(db, auditedServices, { asOf: visibleBefore.at });
    const replayed = await invoiceTotals(db, 'billing_replay', MONTH);
    expect(
      Object.fromEntries(replayed.map((i) => [i.invoiceId, [i.status, i.invoiceNumber, i.totalMinor]])),
    ).toEqual({
      [INVOICE.acme]: ['draft', null, visibleBefore.totals[INVOICE.acme]],
      [INVOICE.borealis]: ['draft', null, visibleBefore.totals[INVOICE.borealis]],
    });
    // Exactly the charges billing held then: none of the late samples' corrections, no credit note.
    expect(await tableChecksum(db, 'billing_replay', 'charges')).toEqual(visibleBefore.charges);
    expect(await tableChecksum(db, 'billing', 'charges')).not.toEqual(visibleBefore.charges);
  });

  it('audit explain: the H100 line of invoice 1 leads to the eviction, the raw samples, the lease and the rate plan', async () => {
    const explanation = await explainInvoice(services.dataSource(), 1);
    expect(explanation).toMatchObject({ invoiceId: INVOICE.acme, status: 'finalized' });
    const h100 = explanation.lines.find((l) => l.kind === 'gpu-usage' && l.gpuClass === 'H100')!;
    const placementTypes = new Set(h100.sources.flatMap((s) => s.placements.map((p) => p.type)));
    expect([...placementTypes].sort()).toEqual(
      expect.arrayContaining([
        'allocation.WorkloadEvicted',
        'allocation.WorkloadPlaced',
        'allocation.WorkloadReleased',
      ]),
    );
    expect(
      h100.sources.some((s) => s.placements.some((p) => p.payload.placementId === evictedPlacement)),
    ).toBe(true);
    const h100Samples = samples.filter((s) =>
      segments.some((g) => g.job.gpuClass === 'H100' && g.gpuIds.includes(s.gpuId)),
    );
    expect(h100.sources.reduce((n, s) => n + s.samples.count, 0)).toBe(h100Samples.length);
    // exactly the lease events the invoice was priced with (InvoiceFinalized.leaseEventIds): no activation, and
    // never a workload event that names the lease
    expect(h100.lease.map((e) => e.type)).toEqual(['allocation.LeaseSigned']);
    expect(h100.ratePlan.map((e) => e.type)).toEqual(['billing.RatePlanPublished']);
  });

  it('audit report: the month in headless Chromium, with charts; a screenshot is taken', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'fl-month-report-'));
    await writeReport(services.dataSource(), MONTH, out, '2026-04-03T00:00:00.000Z');
    const csv = readFileSync(path.join(out, 'invoices.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(3);
    const { dom, png } = openInChromium(path.join(out, 'index.html'), path.join(out, 'report.png'));
    expect((dom.match(/<svg [^>]*class="chart"/g) ?? []).length).toBe(3);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
  });

  it('audit verify fails once one stored event is altered, and names the first broken link', async () => {
    const db = services.dataSource();
    const [doubling] = await db.query(
      `SELECT global_position FROM allocation.events WHERE type = 'allocation.QuotaChanged' AND payload->>'reason' = 'limits doubled'`,
    );
    expect(doubling).toBeDefined();
    // Only the administrator can alter a log: no service role may UPDATE its events, the audit role neither.
    await runInTransaction(await services.db.adminDataSource(), async (tx) => {
      await tx.query(`SET LOCAL fleetledger.allow_event_rewrite = 'on'`);
      await tx.query(
        `UPDATE allocation.events SET payload = jsonb_set(payload, '{reason}', '"limits x15"') WHERE global_position = $1`,
        [doubling.global_position],
      );
    });
    const report = await verifyAll(db, auditedServices);
    const chain = report.chains.find((c) => c.service === 'allocation')!;
    expect(report.ok).toBe(false);
    expect(chain.verification.firstBreak).toMatchObject({
      kind: 'hash-mismatch',
      globalPosition: Number(doubling.global_position),
    });
    expect(report.chains.filter((c) => c.service !== 'allocation').every((c) => c.verification.ok)).toBe(
      true,
    );
  });
});
