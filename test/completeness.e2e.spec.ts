import { api, waitUntil } from '@fleetledger/testing';
import { QueryRunner } from 'typeorm';
import { explainInvoice, formatExplanation } from '../apps/audit/src/explain';
import { invoiceTotals, replayServices } from '../apps/audit/src/replay';
import { auditedServices } from '../apps/audit/src/services';
import { FLEET_GPUS, flowFleet, nodeOfGpu } from './e2e/fleet';
import { FlowServices, startFlowServices } from './e2e/flow-services';

/**
 * Issue #22, money only from complete data, as user stories on real Kafka and PostgreSQL with the four
 * services: allocation publishes its watermark on every partition, metering closes an hour only once
 * that watermark (minimum over the partitions) has passed its end, billing's drafts show what they
 * cover, and an invoice is final only when its period is complete (or finance forces it with a reason).
 *
 * Time: the story runs on 2026-03-01 (UTC), stamped in every command; allocation's watermark follows
 * its own decisions and the operator's "complete until" (story time, ALLOCATION_WATERMARK_FOLLOWS_CLOCK
 * false), metering requires the placements watermark, billing's scheduler runs every second.
 */
const T0 = '2026-03-01T00:00:00.000Z';
const at = (hhmm: string) => `2026-03-01T${hhmm}:00.000Z`;
const RATE_PLAN = 'rp-complete';
const ACME = 'acme';
const GLOBEX = 'globex';
const ACME_INVOICE = `${ACME}.2026-03`;
const GLOBEX_INVOICE = `${GLOBEX}.2026-03`;
const FORCE_REASON =
  'globex pays on the 1st by contract; finance accepts the usage known at 10:00 (ticket FIN-22)';
/** 2.50 USD per H100-hour (micro-minor units), no fees and no energy: the invoice is GPU-time alone. */
const H100_CENTS_PER_GPU_HOUR = 250;

const ratePlan = {
  ratePlanId: RATE_PLAN,
  version: 1,
  effectiveFrom: '2026-01-01T00:00:00.000Z',
  currency: { code: 'USD', minorUnitExponent: 2 },
  classes: ['H100', 'H200', 'GB200'].map((gpuClass) => ({
    gpuClass,
    pricePerGpuHourMicroMinor: String(H100_CENTS_PER_GPU_HOUR * 1_000_000),
    overagePricePerGpuHourMicroMinor: String(H100_CENTS_PER_GPU_HOUR * 1_000_000),
    committedMonthlyFeePerGpuMinor: '0',
  })),
  energyPricePerKwhMicroMinor: '0',
  slaCreditTiers: [],
  rounding: 'half-even-per-line',
};

interface MeteringProgress {
  closedBefore: string | null;
  inputs: {
    input: string;
    watermark: string | null;
    partitions: { partition: number; watermark: string }[];
  }[];
}
interface Draft {
  status: string;
  totalMinor: string;
  coveredUntil?: string;
  complete?: boolean;
  finalizable?: boolean;
  missing?: { input: string; reason: string; watermark?: string | null }[];
  forcedReason?: string | null;
  invoiceNumber: number | null;
}

describe('issue #22: money only from complete data', () => {
  let services: FlowServices;
  /** A transaction holding allocation's outbox relay lock: the relay publishes nothing while it is open. */
  let relayHold: QueryRunner | undefined;

  const allocation = () => api(services.allocation.url);
  const metering = () => api(services.metering.url);
  const billing = () => api(services.billing.url);
  const sql = <T>(query: string, params: unknown[] = []): Promise<T[]> =>
    services.dataSource().query(query, params);

  const invoice = async (tenant: string, invoiceId: string): Promise<Draft> =>
    (await billing().get(`/invoices/${invoiceId}`).set('x-tenant-id', tenant).expect(200)).body;
  const meteringProgress = async (): Promise<MeteringProgress> =>
    (await metering().get('/metering/progress').expect(200)).body;
  const placementsWatermark = async () =>
    (await meteringProgress()).inputs.find((i) => i.input === 'placements')!.watermark;
  const close = async (asOf: string) =>
    (await metering().post('/metering/windows/close').send({ asOf }).expect(200)).body as {
      closedBefore: string | null;
      recorded: number;
      corrected: number;
      limitedBy: string;
    };
  const advanceWatermark = (to: string) => allocation().post('/progress/watermark').send({ to }).expect(200);
  const submit = (workloadId: string, tenantId: string, requestedAt: string) =>
    allocation().post('/workloads').send({
      workloadId,
      tenantId,
      workloadClass: 'training',
      gpuCount: 8,
      gang: true,
      priority: 10,
      requestedAt,
    });
  const release = (workloadId: string, requestedAt: string) =>
    allocation().post(`/workloads/${workloadId}/release`).send({ requestedAt }).expect(200);
  const waitForPlacementsWatermark = (atLeast: string, what: string) =>
    waitUntil(
      async () => {
        const watermark = await placementsWatermark();
        return watermark !== null && Date.parse(watermark) >= Date.parse(atLeast);
      },
      60_000,
      what,
    );
  /** A pure recomputation of a tenant's usage charge from the placements the story made: GPUs x hours x price. */
  const recomputedMinor = (intervals: [string, string][]) =>
    String(
      intervals.reduce(
        (sum, [start, end]) =>
          sum + (8 * (Date.parse(end) - Date.parse(start)) * H100_CENTS_PER_GPU_HOUR) / 3_600_000,
        0,
      ),
    );

  beforeAll(async () => {
    services = await startFlowServices({
      METERING_PLACEMENT_WATERMARK: 'required',
      ALLOCATION_WATERMARK_INTERVAL_MS: '200',
      BILLING_AUTO_FINALIZE_INTERVAL_MS: '1000',
    });
  }, 120_000);

  afterAll(async () => {
    if (relayHold?.isTransactionActive) await relayHold.rollbackTransaction();
    await relayHold?.release();
    await services?.stop();
  }, 60_000);

  it('sets up a fleet, a rate plan and two tenants with a lease and a quota each', async () => {
    await api(services.inventory.url).post('/fleet/import').send(flowFleet).expect(200);
    await waitUntil(
      async () => {
        const utilization = (await allocation().get('/utilization')).body as {
          gpuClass: string;
          healthy: number;
        }[];
        return (
          utilization.length === 3 && utilization.every((u) => u.healthy === FLEET_GPUS[u.gpuClass as 'H100'])
        );
      },
      60_000,
      'the fleet in allocation',
    );
    await billing()
      .post('/rate-plans')
      .send({ plan: ratePlan, publishedAt: '2026-01-01T00:00:00.000Z' })
      .expect(201);
    for (const tenant of [ACME, GLOBEX]) {
      await allocation()
        .post('/leases')
        .send({
          leaseId: `lease-${tenant}`,
          tenantId: tenant,
          term: { start: T0, end: '2027-03-01T00:00:00.000Z' },
          committedGpus: { H100: 16 },
          exclusivity: 'shared',
          ratePlanId: RATE_PLAN,
          author: 'sales',
          at: '2026-02-20T00:00:00.000Z',
        })
        .expect(201);
      await allocation()
        .post(`/leases/lease-${tenant}/activate`)
        .send({ author: 'ops', at: '2026-02-20T00:00:00.000Z' })
        .expect(201);
      await allocation()
        .post(`/quotas/${tenant}/H100/training`)
        .send({
          change: { kind: 'set', nominal: 16, borrowLimit: 0 },
          reason: 'initial',
          author: 'capacity',
          at: T0,
        })
        .expect(201);
    }
    const leases = (await allocation().get('/leases').expect(200)).body as { tenantId: string }[];
    expect(leases.map((l) => l.tenantId).sort()).toEqual([ACME, GLOBEX]);
  });

  it('closes the morning once the watermark has passed it: both drafts cover until 10:00 and are incomplete', async () => {
    for (const [workload, tenant] of [
      ['acme-w0', ACME],
      ['globex-g0', GLOBEX],
    ]) {
      const placed = await submit(workload, tenant, at('08:00'));
      expect([placed.status, placed.body]).toEqual([201, expect.objectContaining({ outcome: 'placed' })]);
    }
    await release('acme-w0', at('09:00'));
    await release('globex-g0', at('09:00'));
    // The operator declares the ledger complete until 10:00 (story time: there is no wall-clock heartbeat).
    await advanceWatermark(at('10:00'));
    await waitForPlacementsWatermark(at('10:00'), "metering to handle allocation's 10:00 watermark");
    expect(await close(at('10:10'))).toMatchObject({ closedBefore: at('10:00'), recorded: 2, corrected: 0 });

    // The drafts appear once billing has rated the morning (404 until then).
    const draftOf = async (tenant: string, invoiceId: string) => {
      const response = await billing().get(`/invoices/${invoiceId}`).set('x-tenant-id', tenant);
      return response.status === 200 ? (response.body as Draft) : undefined;
    };
    await waitUntil(
      async () => {
        const [acme, globex] = [await draftOf(ACME, ACME_INVOICE), await draftOf(GLOBEX, GLOBEX_INVOICE)];
        return (
          acme?.coveredUntil === at('10:00') &&
          globex?.coveredUntil === at('10:00') &&
          acme.totalMinor === '2000'
        );
      },
      60_000,
      "billing to rate the morning and learn metering's 10:00 watermark",
    );
    const draft = await invoice(ACME, ACME_INVOICE);
    expect(draft).toMatchObject({ status: 'draft', complete: false, finalizable: false });
    expect(draft.missing).toEqual([
      expect.objectContaining({ input: 'metering', reason: 'metering-behind', watermark: at('10:00') }),
    ]);
  });

  it("with allocation's relay held back, the released workload's hour stays open and finalize answers 409 naming metering", async () => {
    // Hold the relay: it takes this advisory lock for every batch (libs/eventstore/src/outbox-relay.ts).
    relayHold = services.dataSource().createQueryRunner();
    await relayHold.connect();
    await relayHold.startTransaction();
    await relayHold.query(`SELECT pg_advisory_xact_lock(hashtext('outbox:allocation'))`);

    expect((await submit('acme-w1', ACME, at('10:00')).expect(201)).body).toMatchObject({
      outcome: 'placed',
    });
    await release('acme-w1', at('10:30'));
    // "Its hour passes": allocation's watermark moves to 12:00, but nothing of it is published.
    await advanceWatermark(at('12:00'));
    expect((await allocation().get('/progress').expect(200)).body).toMatchObject({ watermark: at('12:00') });

    // Metering has seen neither the release nor the 12:00 markers: hour 10 stays open. (Closing on the clock
    // alone would have recorded acme-w1 until 11:00, then corrected it.)
    const held = await close(at('12:10'));
    expect(held).toMatchObject({
      closedBefore: at('10:00'),
      recorded: 0,
      corrected: 0,
      limitedBy: 'placements-watermark',
    });

    const draft = await invoice(ACME, ACME_INVOICE);
    expect(draft).toMatchObject({ coveredUntil: at('10:00'), totalMinor: '2000', complete: false });
    const refused = await billing()
      .post(`/invoices/${ACME_INVOICE}/finalize`)
      .set('x-tenant-id', ACME)
      .send({ finalizedAt: '2026-04-01T00:00:00.000Z' })
      .expect(409);
    expect(refused.body.error).toBe('period-incomplete');
    expect(refused.body.message).toMatch(
      /metering: metering has closed usage before 2026-03-01T10:00:00.000Z only/,
    );
    expect(refused.body.details.missing).toEqual([
      expect.objectContaining({ input: 'metering', reason: 'metering-behind', watermark: at('10:00') }),
    ]);
    expect((await invoice(ACME, ACME_INVOICE)).status).toBe('draft');
  });

  it('a command stamped behind the published watermark is refused with the reason, and writes nothing', async () => {
    const late = await submit('acme-late', ACME, at('11:00')).expect(409);
    expect(late.body.error).toBe('stale-command');
    expect(late.body.message).toMatch(/behind allocation's published watermark 2026-03-01T12:00:00.000Z/);
    await allocation().get('/workloads/acme-late').expect(404);
  });

  it('finance may force an incomplete draft final only with a written reason, which the invoice shows', async () => {
    const unexplained = await billing()
      .post(`/invoices/${GLOBEX_INVOICE}/finalize`)
      .set('x-tenant-id', GLOBEX)
      .send({ finalizedAt: '2026-04-01T00:00:00.000Z', force: { reason: '' } });
    expect(unexplained.status).toBe(400);
    const forced = await billing()
      .post(`/invoices/${GLOBEX_INVOICE}/finalize`)
      .set('x-tenant-id', GLOBEX)
      .send({ finalizedAt: '2026-04-01T00:00:00.000Z', force: { reason: FORCE_REASON } })
      .expect(200);
    expect(forced.body).toMatchObject({
      status: 'finalized',
      totalMinor: '2000',
      forcedReason: FORCE_REASON,
      coveredUntil: at('10:00'),
      complete: false,
    });
    expect(forced.body.missing).toEqual([
      expect.objectContaining({ input: 'metering', reason: 'metering-behind' }),
    ]);
  });

  it('released, the relay publishes; every partition reports (idle ones by their markers) and hour 10 closes once, with no correction', async () => {
    await relayHold!.commitTransaction();
    await relayHold!.release();
    relayHold = undefined;
    await waitForPlacementsWatermark(at('12:00'), "metering to handle allocation's 12:00 watermark");

    // The placements all travel on one partition (the ledger's stream); the other partitions only ever carry
    // markers, and each reports 12:00: an idle partition does not hold the hour back.
    const placementPartitions = await sql<{ partition: number }>(
      `SELECT DISTINCT partition FROM metering.inbox WHERE consumer = 'metering-placements' AND envelope->>'type' LIKE 'allocation.Workload%'`,
    );
    expect(placementPartitions).toHaveLength(1);
    const { partitions } = (await meteringProgress()).inputs.find((i) => i.input === 'placements')!;
    expect(partitions.map((p) => [p.partition, p.watermark])).toEqual([0, 1, 2].map((p) => [p, at('12:00')]));

    expect(await close(at('12:10'))).toMatchObject({ closedBefore: at('12:00'), recorded: 1, corrected: 0 });
    const [{ corrections }] = await sql<{ corrections: number }>(
      `SELECT count(*)::int AS corrections FROM metering.events WHERE type = 'metering.UsageCorrected'`,
    );
    expect(corrections).toBe(0);
    const [record] = await sql<{ payload: { gpuSecondsAllocated: string } }>(
      `SELECT payload FROM metering.events WHERE type = 'metering.UsageRecorded' AND payload->>'hourStart' = $1`,
      [at('10:00')],
    );
    expect(record.payload.gpuSecondsAllocated).toBe('14400.000');

    const expected = recomputedMinor([
      [at('08:00'), at('09:00')],
      [at('10:00'), at('10:30')],
    ]);
    await waitUntil(
      async () => (await invoice(ACME, ACME_INVOICE)).coveredUntil === at('12:00'),
      60_000,
      "billing to learn metering's 12:00 watermark",
    );
    expect(await invoice(ACME, ACME_INVOICE)).toMatchObject({ totalMinor: expected, complete: false });
    expect(expected).toBe('3000');
  });

  it('telemetry that really arrives late corrects the closed hour, saying which input was late and by how much', async () => {
    // acme-w1's first GPU, as metering knows the (released) placement.
    const [{ gpuId }] = await sql<{ gpuId: string }>(
      `SELECT gpu_ids[1] AS "gpuId" FROM metering.placements WHERE workload_id = 'acme-w1'`,
    );
    const sampledAt = at('10:15');
    await metering()
      .post('/metering/samples')
      .send({
        samples: [
          {
            sampleId: `late:${gpuId}:${sampledAt}`,
            gpuId,
            nodeId: nodeOfGpu(gpuId),
            sampledAt,
            utilization: 0.5,
            powerW: 720,
          },
        ],
      })
      .expect(200);
    // Closed at 12:10 (story time); the correction comes with the close at 12:40.
    expect(await close(at('12:40'))).toMatchObject({ corrected: 1 });
    const [correction] = await sql<{ payload: { reason: string; lateByMs: number; hourStart: string } }>(
      `SELECT payload FROM metering.events WHERE type = 'metering.UsageCorrected'`,
    );
    expect(correction.payload).toMatchObject({
      reason: 'late-samples',
      hourStart: at('10:00'),
      lateByMs: 30 * 60_000,
    });
  });

  it('once March is complete and its grace has passed, the scheduler finalizes the draft as the billing service, once', async () => {
    await advanceWatermark('2026-04-01T00:00:00.000Z');
    await waitForPlacementsWatermark(
      '2026-04-01T00:00:00.000Z',
      "metering to handle allocation's April watermark",
    );
    expect(await close('2026-04-01T00:10:00.000Z')).toMatchObject({
      closedBefore: '2026-04-01T00:00:00.000Z',
      corrected: 0,
    });
    await waitUntil(
      async () => (await invoice(ACME, ACME_INVOICE)).status === 'finalized',
      60_000,
      'the scheduler to finalize the complete March invoice',
    );
    const final = await invoice(ACME, ACME_INVOICE);
    expect(final).toMatchObject({ totalMinor: '3000', complete: true, forcedReason: null, missing: [] });
    const [finalized] = await sql<{ subject: string; n: number }>(
      `SELECT metadata->'principal'->>'subject' AS subject, count(*) OVER ()::int AS n FROM billing.events
        WHERE type = 'billing.InvoiceFinalized' AND payload->>'invoiceId' = $1`,
      [ACME_INVOICE],
    );
    expect(finalized).toEqual({ subject: 'service:billing', n: 1 });
    // Idempotent: running the schedule again finalizes nothing more.
    const again = await billing().post('/invoices/finalize-due').expect(200);
    expect(again.body.outcomes).toEqual([]);
    expect((await invoice(ACME, ACME_INVOICE)).invoiceNumber).toBe(final.invoiceNumber);
  });

  it('replay reproduces both invoices, the forced reason included; audit explain shows it', async () => {
    const db = services.dataSource();
    await replayServices(
      db,
      auditedServices.filter((s) => s.service === 'billing'),
    );
    const live = await invoiceTotals(db, 'billing', '2026-03');
    expect(await invoiceTotals(db, 'billing_replay', '2026-03')).toEqual(live);
    expect(live.map((i) => [i.invoiceId, i.status, i.totalMinor])).toEqual([
      [ACME_INVOICE, 'finalized', '3000'],
      [GLOBEX_INVOICE, 'finalized', '2000'],
    ]);
    const replayed = await sql<{ invoice_id: string; forced_reason: string | null }>(
      `SELECT invoice_id, forced_reason FROM billing_replay.invoices ORDER BY invoice_id`,
    );
    expect(replayed).toEqual([
      { invoice_id: ACME_INVOICE, forced_reason: null },
      { invoice_id: GLOBEX_INVOICE, forced_reason: FORCE_REASON },
    ]);

    const globex = await invoice(GLOBEX, GLOBEX_INVOICE);
    const explanation = await explainInvoice(db, globex.invoiceNumber!);
    expect(explanation.forcedReason).toBe(FORCE_REASON);
    expect(formatExplanation(explanation)).toContain(`FORCED final while incomplete (metering missing`);
  });
});
