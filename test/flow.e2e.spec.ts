import { tableChecksum } from '@fleetledger/eventstore';
import { serviceAudience } from '@fleetledger/platform';
import { api, httpAs, testToken, waitUntil } from '@fleetledger/testing';
import { auditedServices } from '../apps/audit/src/services';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { explainInvoice, formatExplanation } from '../apps/audit/src/explain';
import { writeReport } from '../apps/audit/src/report';
import { invoiceTotals, reconcileServices, replayServices } from '../apps/audit/src/replay';
import { verifyAll } from '../apps/audit/src/verify';
import { openInChromium } from './e2e/chromium';
import { FLEET_GPUS, flowFleet, nodeOfGpu, SITE_ID } from './e2e/fleet';
import { FlowServices, startFlowServices } from './e2e/flow-services';

/**
 * The whole business flow across the four services, on real Kafka and PostgreSQL. Every cross-service
 * step travels as events: inventory -> allocation (fleet, health), allocation -> metering (placements),
 * allocation -> billing (leases), metering -> billing (usage), each through an outbox relay and an inbox.
 *
 * Time: the lease, placements and samples live on 2026-03-01 (UTC), given explicitly in every command;
 * windows are closed "as of" an instant. Inventory stamps its own events with the wall clock.
 */
const TENANT = 'acme';
const LEASE = 'lease-acme';
const RATE_PLAN = 'rp-e2e';
const T0 = '2026-03-01T00:00:00.000Z';
const at = (hhmm: string) => `2026-03-01T${hhmm}:00.000Z`;
const INVOICE = `${TENANT}.2026-03`;
const asTenant = { 'x-tenant-id': TENANT };

// Prices in micro-minor units (millionths of a cent): H100 2.50 USD/GPU-h, GB200 6.00 USD/GPU-h, energy 0.12 USD/kWh.
const H100_PRICE = '250000000';
const GB200_PRICE = '600000000';
const ENERGY_PRICE = '12000000';
const ratePlan = {
  ratePlanId: RATE_PLAN,
  version: 1,
  effectiveFrom: '2026-01-01T00:00:00.000Z',
  currency: { code: 'USD', minorUnitExponent: 2 },
  classes: [
    // No take-or-pay fee: the invoice is the metered usage and energy alone, so the hand computation below shows them.
    {
      gpuClass: 'H100',
      pricePerGpuHourMicroMinor: H100_PRICE,
      overagePricePerGpuHourMicroMinor: '300000000',
      committedMonthlyFeePerGpuMinor: '0',
    },
    {
      gpuClass: 'H200',
      pricePerGpuHourMicroMinor: '300000000',
      overagePricePerGpuHourMicroMinor: '360000000',
      committedMonthlyFeePerGpuMinor: '0',
    },
    {
      gpuClass: 'GB200',
      pricePerGpuHourMicroMinor: GB200_PRICE,
      overagePricePerGpuHourMicroMinor: '720000000',
      committedMonthlyFeePerGpuMinor: '0',
    },
  ],
  energyPricePerKwhMicroMinor: ENERGY_PRICE,
  slaCreditTiers: [{ availabilityBelowBasisPoints: 9990, creditBasisPoints: 1000 }],
  rounding: 'half-even-per-line',
};

// Power draws chosen so each 10 s sample is a whole number of milliwatt-hours: 720 W x 10 s = 2 Wh, 1080 W x 10 s = 3 Wh.
const H100_POWER_W = 720;
const GB200_POWER_W = 1080;
const SAMPLE_MINUTES = ['00:10', '00:40', '01:10'];

interface Placement {
  placementId: string;
  workloadId: string;
  gpuClass: string;
  gpuIds: string[];
  nodeIds: string[];
}

describe('FleetLedger end to end: fleet -> lease -> placements -> telemetry -> usage -> invoice -> audit', () => {
  let services: FlowServices;
  let inference: Placement;
  let training: Placement;
  /** The draft invoice's charges as billing held them, and when: for the as-of replay at the end. */
  let draftSeen: { at: string; charges: { rows: number; checksum: string } };

  const inventory = () => api(services.inventory.url);
  const allocation = () => api(services.allocation.url);
  const metering = () => api(services.metering.url);
  const billing = () => api(services.billing.url);
  const sql = async <T>(query: string, params: unknown[] = []): Promise<T[]> =>
    services.dataSource().query(query, params);
  const livePlacements = async (): Promise<Placement[]> =>
    (await allocation().get('/placements').query({ tenantId: TENANT }).expect(200)).body;
  const sample = (sampleId: string, gpuId: string, sampledAt: string, powerW: number) => ({
    sampleId,
    gpuId,
    nodeId: nodeOfGpu(gpuId),
    sampledAt,
    utilization: 0.5,
    powerW,
  });

  beforeAll(async () => {
    services = await startFlowServices();
  }, 120_000);

  afterAll(async () => {
    await services?.stop();
  }, 60_000);

  it('imports the fleet into inventory, and allocation learns it from inventory events', async () => {
    const imported = await inventory().post('/fleet/import').send(flowFleet).expect(200);
    expect(imported.body).toMatchObject({ imported: true, rejected: 0, gpusInFile: 168 });
    const capacity = (await inventory().get('/capacity').expect(200)).body;
    expect(
      Object.fromEntries(capacity.map((c: { gpuClass: string; total: number }) => [c.gpuClass, c.total])),
    ).toEqual(FLEET_GPUS);

    await waitUntil(
      async () => {
        const utilization = (await allocation().get('/utilization')).body as {
          gpuClass: string;
          healthy: number;
        }[];
        return (
          utilization.length === 3 &&
          utilization.every((u) => u.healthy === FLEET_GPUS[u.gpuClass as keyof typeof FLEET_GPUS])
        );
      },
      60_000,
      'the imported fleet in allocation (via inventory.events)',
    );
  });

  it("reports each consumer's lag in readiness, down to zero once caught up", async () => {
    await waitUntil(
      async () => {
        const ready = await allocation().get('/health/ready');
        return (
          ready.status === 200 && ready.body.details['consumer-lag']?.lag?.['allocation-inventory'] === 0
        );
      },
      60_000,
      'allocation to report its inventory consumer caught up',
    );
    const metering_ = await metering().get('/health/ready').expect(200);
    expect(Object.keys(metering_.body.details['consumer-lag'].lag)).toContain('metering-placements');
  });

  it('publishes a rate plan, signs and activates a shared lease, sets a quota and doubles it', async () => {
    await billing()
      .post('/rate-plans')
      .send({ plan: ratePlan, publishedAt: '2026-01-01T00:00:00.000Z' })
      .expect(201);

    await allocation()
      .post('/leases')
      .send({
        leaseId: LEASE,
        tenantId: TENANT,
        term: { start: T0, end: '2027-03-01T00:00:00.000Z' },
        committedGpus: { H100: 32, GB200: 36 },
        exclusivity: 'shared',
        ratePlanId: RATE_PLAN,
        author: 'sales',
        at: '2026-02-20T00:00:00.000Z',
      })
      .expect(201);
    await allocation()
      .post(`/leases/${LEASE}/activate`)
      .send({ author: 'ops', at: '2026-02-20T00:00:00.000Z' })
      .expect(201);

    await allocation()
      .post(`/quotas/${TENANT}/H100/training`)
      .send({
        change: { kind: 'set', nominal: 8, borrowLimit: 0 },
        reason: 'initial',
        author: 'capacity',
        at: T0,
      })
      .expect(201);
    const doubled = await allocation()
      .post(`/quotas/${TENANT}/H100/training`)
      .send({
        change: { kind: 'multiply', factor: 2 },
        reason: 'Claude Code limits x2',
        author: 'capacity',
        at: T0,
      })
      .expect(201);
    expect(doubled.body).toMatchObject({ nominal: 16, previous: { nominal: 8 } });
    await allocation()
      .post(`/quotas/${TENANT}/GB200/inference`)
      .send({
        change: { kind: 'set', nominal: 8, borrowLimit: 0 },
        reason: 'initial',
        author: 'capacity',
        at: T0,
      })
      .expect(201);

    const history = (await allocation().get(`/quotas/${TENANT}/history`).expect(200)).body;
    expect(history.map((h: { reason: string }) => h.reason)).toEqual([
      'initial',
      'Claude Code limits x2',
      'initial',
    ]);
  });

  it('routes inference to GB200 (one NVLink domain) and training to H100, within the doubled quota', async () => {
    const infer = await allocation()
      .post('/workloads')
      .send({
        workloadId: 'infer-1',
        tenantId: TENANT,
        workloadClass: 'inference',
        gpuCount: 8,
        gang: true,
        topology: 'same-nvlink-domain',
        priority: 10,
        requestedAt: T0,
      })
      .expect(201);
    expect(infer.body).toMatchObject({ outcome: 'placed', gpuClass: 'GB200', leaseId: LEASE });
    expect(infer.body.gpuIds).toHaveLength(8);
    expect(infer.body.gpuIds.every((id: string) => id.startsWith(`${SITE_ID}-h03-r001-`))).toBe(true);

    // 16 GPUs fit only because the quota was doubled from 8.
    const train = await allocation()
      .post('/workloads')
      .send({
        workloadId: 'train-1',
        tenantId: TENANT,
        workloadClass: 'training',
        gpuCount: 16,
        gang: true,
        priority: 10,
        requestedAt: T0,
      })
      .expect(201);
    expect(train.body).toMatchObject({ outcome: 'placed', gpuClass: 'H100', leaseId: LEASE });
    expect(train.body.gpuIds).toHaveLength(16);
    expect(train.body.gpuIds.every((id: string) => id.startsWith(`${SITE_ID}-h01-`))).toBe(true);

    const over = await allocation()
      .post('/workloads')
      .send({
        workloadId: 'train-2',
        tenantId: TENANT,
        workloadClass: 'training',
        gpuCount: 8,
        gang: true,
        priority: 10,
        requestedAt: T0,
      })
      .expect(201);
    expect(over.body).toMatchObject({ outcome: 'queued', reason: 'quota' });

    const placements = await livePlacements();
    inference = placements.find((p) => p.workloadId === 'infer-1')!;
    training = placements.find((p) => p.workloadId === 'train-1')!;
    expect(inference.gpuIds.sort()).toEqual([...infer.body.gpuIds].sort());
    expect(training.gpuIds.sort()).toEqual([...train.body.gpuIds].sort());

    await waitUntil(
      async () =>
        (
          await sql<{ n: number }>(
            `SELECT count(*)::int AS n FROM metering.placements WHERE start_at IS NOT NULL`,
          )
        )[0].n === 2,
      60_000,
      'metering to learn both placements (via allocation.events)',
    );
  });

  it('meters telemetry over HTTP: a duplicate counts once, a late sample after close becomes a correction', async () => {
    const samples = SAMPLE_MINUTES.flatMap((minute) => [
      ...training.gpuIds.map((gpuId) => sample(`${gpuId}@${minute}`, gpuId, at(minute), H100_POWER_W)),
      ...inference.gpuIds.map((gpuId) => sample(`${gpuId}@${minute}`, gpuId, at(minute), GB200_POWER_W)),
    ]);
    expect(samples).toHaveLength(72);
    const first = await metering().post('/metering/samples').send({ samples }).expect(200);
    expect(first.body).toMatchObject({ accepted: 72, duplicates: 0, unattributed: 0, rejected: [] });
    const duplicate = await metering()
      .post('/metering/samples')
      .send({ samples: [samples[0]] })
      .expect(200);
    expect(duplicate.body).toMatchObject({ accepted: 0, duplicates: 1 });

    // Hours 00 and 01 are due at 02:05 (5 minutes of lateness): lease x {H100, GB200} x 2 hours.
    const closed = await metering()
      .post('/metering/windows/close')
      .send({ asOf: at('02:05') })
      .expect(200);
    expect(closed.body).toMatchObject({ recorded: 4, corrected: 0 });

    const late = await metering()
      .post('/metering/samples')
      .send({ samples: [sample('late-1', training.gpuIds[0], at('00:50'), H100_POWER_W)] })
      .expect(200);
    expect(late.body).toMatchObject({ accepted: 1, duplicates: 0 });
    const corrected = await metering()
      .post('/metering/windows/close')
      .send({ asOf: at('02:06') })
      .expect(200);
    expect(corrected.body).toMatchObject({ recorded: 0, corrected: 1 });

    const usage = (await metering().get('/metering/usage').query({ tenantId: TENANT }).expect(200)).body;
    // Allocated: 16 H100 x 2 h + 8 GB200 x 2 h = 48 GPU-hours; energy (Wh): 2 x 16 x 3 + 3 x 8 x 3 + 2 (late) = 170.
    expect(usage.totals).toMatchObject({
      gpuSecondsAllocated: '172800.000',
      energyWh: '170.000',
      sampleCount: 73,
    });
    const pending = (await metering().get('/metering/samples/pending').expect(200)).body;
    expect(pending).toMatchObject({ accepted: 73, unattributed: 0, awaitingClose: 0, awaitingCorrection: 0 });
  });

  it('billing rates the usage (with the correction) into a draft whose total matches the hand computation; finalizes it', async () => {
    // By hand, every line rounded once, half to even (the lease commits far more GPU-time than used: no overage):
    //   H100:  16 GPUs x 2 h = 32 GPU-h x 250 cents       =  8000 cents  (115,200,000 milli-GPU-s)
    //   GB200:  8 GPUs x 2 h = 16 GPU-h x 600 cents       =  9600 cents  ( 57,600,000 milli-GPU-s)
    //   energy: 170 Wh = 0.170 kWh x 12 cents = 2.04      ->    2 cents  (170,000 milli-Wh, the late sample included)
    const h100Milli = 16n * 2n * 3600n * 1000n;
    const gb200Milli = 8n * 2n * 3600n * 1000n;
    const energyMilliWh = (2n * 16n * 3n + 3n * 8n * 3n + 2n) * 1000n;
    const perGpuHour = 1000n * 3600n * 1_000_000n;
    const h100Minor = (h100Milli * BigInt(H100_PRICE)) / perGpuHour;
    const gb200Minor = (gb200Milli * BigInt(GB200_PRICE)) / perGpuHour;
    const energyMinor = 2n; // 170,000 x 12,000,000 / 10^12 = 2.04 -> 2
    expect([h100Minor, gb200Minor]).toEqual([8000n, 9600n]);
    const expectedTotal = (h100Minor + gb200Minor + energyMinor).toString();
    expect(expectedTotal).toBe('17602');

    const energyLine = `${LEASE}:energy:${ENERGY_PRICE}`;
    await waitUntil(
      async () => {
        const response = await billing().get(`/invoices/${INVOICE}`).set(asTenant);
        const line =
          response.status === 200
            ? response.body.lines.find((l: { lineId: string }) => l.lineId === energyLine)
            : undefined;
        return line?.quantity === energyMilliWh.toString();
      },
      60_000,
      'billing to rate the usage records and the correction (via metering.events)',
    );

    const draft = (await billing().get(`/invoices/${INVOICE}`).set(asTenant).expect(200)).body;
    expect(draft).toMatchObject({
      status: 'draft',
      invoiceNumber: null,
      currency: { code: 'USD', minorUnitExponent: 2 },
    });
    expect(
      Object.fromEntries(
        draft.lines.map((l: { lineId: string; quantity: string; amountMinor: string }) => [
          l.lineId,
          [l.quantity, l.amountMinor],
        ]),
      ),
    ).toEqual({
      [`${LEASE}:gpu-usage:GB200:${GB200_PRICE}`]: [gb200Milli.toString(), gb200Minor.toString()],
      [`${LEASE}:gpu-usage:H100:${H100_PRICE}`]: [h100Milli.toString(), h100Minor.toString()],
      [energyLine]: [energyMilliWh.toString(), energyMinor.toString()],
    });
    expect(draft.totalMinor).toBe(expectedTotal);
    draftSeen = {
      at: new Date().toISOString(),
      charges: await tableChecksum(services.dataSource(), 'billing', 'charges'),
    };
    await new Promise((resolve) => setTimeout(resolve, 20)); // the finalization is recorded strictly later

    // Finalized by a named finance person: the audit's lineage must name her (below).
    const financeAlice = httpAs(
      services.billing.url,
      await testToken({ roles: ['finance'], subject: 'finance-alice', audience: serviceAudience('billing') }),
    );
    const finalized = (
      await financeAlice
        .post(`/invoices/${INVOICE}/finalize`)
        .set(asTenant)
        // Issue #22: March is not complete (metering has closed only the story's first two hours, train-1 still
        // runs), so finalize would answer 409 period-incomplete: this story is about the invoice's lines and
        // lineage, so finance forces it and says why (the invoice and `audit explain` show the reason).
        .send({
          finalizedAt: '2026-04-01T00:00:00.000Z',
          force: { reason: 'end-to-end story: finance finalizes the first two hours of March as the month' },
        })
        .expect(200)
    ).body;
    expect(finalized).toMatchObject({ status: 'finalized', invoiceNumber: 1, totalMinor: expectedTotal });
    await billing().get(`/invoices/${INVOICE}`).set({ 'x-tenant-id': 'someone-else' }).expect(404);
  });

  it('releases a workload: allocation frees it and metering closes its interval', async () => {
    await allocation()
      .post('/workloads/train-1/release')
      .send({ requestedAt: at('02:30') })
      .expect(200);
    const after = await livePlacements();
    // The queued train-2 (8 GPUs, within the quota once train-1 is gone) is placed by the release.
    expect(after.map((p) => p.workloadId).sort()).toEqual(['infer-1', 'train-2']);
    await waitUntil(
      async () => {
        const [row] = await sql<{ end_at: Date | null }>(
          `SELECT end_at FROM metering.placements WHERE placement_id = $1`,
          [training.placementId],
        );
        return row?.end_at?.toISOString() === at('02:30');
      },
      60_000,
      'metering to close the released placement',
    );
  });

  it('a GPU reported failed in inventory evicts the placement on it, which allocation places again elsewhere', async () => {
    const failed = inference.gpuIds[0];
    await inventory()
      .post(`/gpus/${failed}/health`)
      .send({ health: 'failed', reason: 'xid 79: fell off the bus' })
      .expect(200);

    await waitUntil(
      async () => {
        const again = (await livePlacements()).find((p) => p.workloadId === 'infer-1');
        return again !== undefined && again.placementId !== inference.placementId;
      },
      60_000,
      'allocation to evict and re-place infer-1 (via inventory.events)',
    );
    const replaced = (await livePlacements()).find((p) => p.workloadId === 'infer-1')!;
    expect(replaced.gpuClass).toBe('GB200');
    expect(replaced.gpuIds).toHaveLength(8);
    expect(replaced.gpuIds).not.toContain(failed);
    const gb200 = (await allocation().get('/utilization').expect(200)).body.find(
      (u: { gpuClass: string }) => u.gpuClass === 'GB200',
    );
    expect(gb200).toMatchObject({ healthy: 71, allocated: 8 });

    // Metering learns of the eviction too: the first placement's interval ends, the new one opens.
    await waitUntil(
      async () => {
        const rows = await sql<{ placement_id: string; end_at: Date | null }>(
          `SELECT placement_id, end_at FROM metering.placements WHERE placement_id = ANY($1::text[])`,
          [[inference.placementId, replaced.placementId]],
        );
        return (
          rows.length === 2 && rows.some((r) => r.placement_id === inference.placementId && r.end_at !== null)
        );
      },
      60_000,
      'metering to see the eviction and the new placement',
    );
  });

  // The event types each consumer of the flow takes in (its `accepts`); others on its topics it skips.
  const needed: Record<string, (type: string) => boolean> = {
    'allocation-inventory': (type) => type.startsWith('inventory.'),
    'billing-fleet-health': (type) => type.startsWith('inventory.'),
    'metering-fleet': (type) => type.startsWith('inventory.'),
    'metering-placements': (type) => /^allocation\.Workload(Placed|Released|Preempted|Evicted)$/.test(type),
    'billing-usage': (type) =>
      /^allocation\.Lease(Signed|Amended|Terminated)$|^metering\.Usage(Recorded|Corrected)$/.test(type),
  };
  const auditReport = async () => {
    const db = services.dataSource();
    const report = await verifyAll(db, auditedServices, 1_000);
    const deliveries = [];
    for (const d of report.deliveries) {
      const rows = await db.query(
        `SELECT DISTINCT message->>'type' AS type FROM ${d.producerSchema}.outbox WHERE (message->>'eventId') = ANY($1::text[])`,
        [d.missing],
      );
      deliveries.push({ ...d, missingTypes: rows.map((r: { type: string }) => r.type).sort() as string[] });
    }
    return { ...report, deliveries };
  };

  it('audit verify: every hash chain is whole, and every event a consumer needs is in its inbox exactly once', async () => {
    let report = await auditReport();
    const caughtUp = () =>
      report.deliveries.length >= 6 &&
      report.deliveries.every(
        (d) => d.unknown.length === 0 && !d.missingTypes.some((t) => needed[d.consumer]?.(t) ?? true),
      );
    await waitUntil(
      async () => {
        report = await auditReport();
        return caughtUp();
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
    // Who wrote each log: every event has a principal; billing's charges come from billing itself consuming
    // metering's usage, its finalization from the finance person who finalized.
    for (const chain of report.chains) expect(chain.principals.map((p) => p.subject)).not.toContain('(none)');
    const subjects = (service: string) =>
      report.chains.find((c) => c.service === service)!.principals.map((p) => p.subject);
    expect(subjects('inventory')).toEqual(['test-caller']);
    expect(subjects('billing')).toEqual(expect.arrayContaining(['service:billing', 'finance-alice']));
    // Per consumer and topic: no unknown inbox rows, and whatever is "missing" is only event types it does not consume.
    expect(
      report.deliveries
        .map((d) => ({
          consumer: d.consumer,
          topic: d.topic.replace(services.topicPrefix, ''),
          unknown: d.unknown,
          neededButMissing: d.missingTypes.filter((t) => needed[d.consumer]?.(t) ?? true),
        }))
        .sort((a, b) => `${a.consumer}${a.topic}`.localeCompare(`${b.consumer}${b.topic}`)),
    ).toEqual([
      { consumer: 'allocation-inventory', topic: 'inventory.events.v1', unknown: [], neededButMissing: [] },
      { consumer: 'billing-fleet-health', topic: 'inventory.events.v1', unknown: [], neededButMissing: [] },
      { consumer: 'billing-usage', topic: 'allocation.events.v1', unknown: [], neededButMissing: [] },
      { consumer: 'billing-usage', topic: 'metering.events.v1', unknown: [], neededButMissing: [] },
      { consumer: 'metering-fleet', topic: 'inventory.events.v1', unknown: [], neededButMissing: [] },
      { consumer: 'metering-placements', topic: 'allocation.events.v1', unknown: [], neededButMissing: [] },
    ]);
  });

  it('audit replay + reconcile: every projection rebuilt from the logs equals the live one', async () => {
    const db = services.dataSource();
    const replayed = await replayServices(db, auditedServices);
    expect(replayed.length).toBeGreaterThan(0);
    const reconciled = await reconcileServices(db, auditedServices);
    expect(reconciled.flatMap((r) => r.differences)).toEqual([]);
    expect(reconciled.flatMap((r) => r.tables).every((t) => t.equal)).toBe(true);
  });

  it('audit verify reports ok for the whole flow', async () => {
    const report = await auditReport();
    // Every event published on a subscribed topic must be in the inbox once, also event types the consumer does not act on.
    expect(report.ok).toBe(true);
  });

  it('audit explain: invoice 1 leads back to usage records, raw samples, placements, the lease and the rate plan', async () => {
    const explanation = await explainInvoice(services.dataSource(), 1);
    expect(explanation).toMatchObject({
      invoiceId: INVOICE,
      tenantId: TENANT,
      status: 'finalized',
      totalMinor: '17602',
    });
    const gb200 = explanation.lines.find((l) => l.gpuClass === 'GB200')!;
    expect(gb200.sources.length).toBeGreaterThan(0);
    for (const source of gb200.sources) {
      expect(source.event).toMatchObject({ service: 'metering', type: 'metering.UsageRecorded' });
      expect(source.placements.map((p) => p.type)).toContain('allocation.WorkloadPlaced');
    }
    // 8 GB200 GPUs sampled at 00:10 and 00:40 in hour 0, 01:10 in hour 1: 24 raw samples behind the line.
    expect(gb200.sources.reduce((n, s) => n + s.samples.count, 0)).toBe(24);
    // exactly the lease events the invoice was priced with (InvoiceFinalized.leaseEventIds): no activation, and
    // never a workload event that names the lease
    expect(gb200.lease.map((e) => e.type)).toEqual(['allocation.LeaseSigned']);
    expect(gb200.ratePlan.map((e) => e.type)).toEqual(['billing.RatePlanPublished']);
    expect(formatExplanation(explanation)).toMatch(/line \d+: gpu-usage GB200 lease lease-acme/);
    // Who did what: the finance person who finalized it, inside the hash-chained log.
    const finalizedBy = explanation.history.find((e) => e.type === 'billing.InvoiceFinalized');
    expect(finalizedBy?.principal).toEqual({
      subject: 'finance-alice',
      issuer: 'fleetledger-dev',
      roles: ['finance'],
      tenantId: TENANT,
    });
    expect(formatExplanation(explanation)).toMatch(
      /InvoiceFinalized: billing#\d+ .* by finance-alice \[finance\] for acme/,
    );
    expect(gb200.lease.find((e) => e.type === 'allocation.LeaseSigned')?.principal?.subject).toBe(
      'test-caller',
    );
  });

  it('audit report: the HTML opens in headless Chromium and shows its charts; CSV extracts are written', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'fl-report-'));
    await writeReport(services.dataSource(), '2026-03', out, '2026-04-02T00:00:00.000Z');
    expect(readFileSync(path.join(out, 'invoices.csv'), 'utf8')).toBe(
      'invoice_number,tenant_id,status,currency,total\n1,acme,finalized,USD,176.02\n',
    );
    expect(readFileSync(path.join(out, 'revenue-by-class.csv'), 'utf8')).toContain('GB200,USD,96.00');

    const { dom, png } = openInChromium(path.join(out, 'index.html'), path.join(out, 'report.png'));
    expect((dom.match(/<svg [^>]*class="chart"/g) ?? []).length).toBe(3);
    expect(dom).toContain('GPU-hours allocated by class');
    expect(dom).toMatch(/InvoiceFinalized<\/td><td>finance-alice<\/td>/);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
  });

  it('audit replay --as-of a moment before finalization reproduces the billing state visible then', async () => {
    const db = services.dataSource();
    const billingOnly = auditedServices.filter((s) => s.service === 'billing');
    await replayServices(db, billingOnly, { asOf: draftSeen.at });
    // The invoice was still a draft then (no number), with exactly the charges billing held at that moment, and
    // the replay reprints the total its preview showed then.
    expect(await invoiceTotals(db, 'billing_replay', '2026-03')).toEqual([
      expect.objectContaining({
        invoiceId: INVOICE,
        status: 'draft',
        invoiceNumber: null,
        totalMinor: '17602',
        totalKind: 'preview',
      }),
    ]);
    expect(await tableChecksum(db, 'billing_replay', 'charges')).toEqual(draftSeen.charges);
    expect(draftSeen.charges.rows).toBeGreaterThan(0);
    // Replayed to the end, the same log gives the finalized invoice.
    await replayServices(db, billingOnly);
    expect(await invoiceTotals(db, 'billing_replay', '2026-03')).toEqual([
      expect.objectContaining({
        invoiceId: INVOICE,
        status: 'finalized',
        invoiceNumber: 1,
        totalMinor: '17602',
      }),
    ]);
  });
});
