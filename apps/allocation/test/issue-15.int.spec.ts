import { allocation, EventEnvelope, inventory, topicName, Topics } from '@fleetledger/contracts';
import { Messaging } from '@fleetledger/platform';
import {
  api,
  startTestService,
  testKafka,
  TestService,
  TopicCollector,
  uniqueTopicPrefix,
  waitUntil,
} from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import { fleetEvents, rackId } from './fleet-builder';

/**
 * Issue #15, allocation half: what a new user met, told as user stories through the HTTP API on real
 * Kafka and PostgreSQL. Each story builds its world (tenants of its own), acts, and observes the
 * reply, the event on the topic and the read model.
 */
const prefix = uniqueTopicPrefix();
process.env.KAFKA_TOPIC_PREFIX = prefix;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { AllocationModule } = require('../src/allocation.module') as typeof import('../src/allocation.module');
const { allocationService } =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../src/allocation.options') as typeof import('../src/allocation.options');

const TERM = { start: '2026-01-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' };
const AT = '2026-03-01T00:00:00.000Z';
const at = (minutes: number) => new Date(Date.parse(AT) + minutes * 60_000).toISOString();

describe('issue #15: allocation decisions say why', () => {
  let service: TestService;
  let collector: TopicCollector;
  let producer: Producer;
  let sent = 0;
  let clock = 0;
  /** Monotonic command time: every command of the suite is later than the previous one. */
  const tick = () => at(++clock);
  /** Moves the suite's clock to `instant` (commands after it are later). */
  const jumpTo = (instant: string) => {
    clock = Math.max(clock, (Date.parse(instant) - Date.parse(AT)) / 60_000);
  };
  const publishInventory = async (events: inventory.InventoryEvent[], occurredAt = tick()) => {
    await producer.send({
      topic: topicName(Topics.inventoryEvents, prefix),
      messages: events.map((e) => {
        const n = ++sent;
        const envelope: EventEnvelope = {
          eventId: uuidv7(),
          type: e.type,
          schemaVersion: 1,
          streamId: 'inventory-test',
          streamVersion: n,
          globalPosition: n,
          occurredAt,
          recordedAt: occurredAt,
          correlationId: 'fleet-setup',
          payload: e.payload,
        };
        return { key: 'inventory-test', value: JSON.stringify(envelope) };
      }),
    });
  };
  const post = (path: string, body: object) => api(service.url).post(path).send(body);
  const get = (path: string) => api(service.url).get(path);
  const events = async (predicate: (e: EventEnvelope) => boolean) => {
    await service.app.get(Messaging).flushOutbox();
    const messages = await collector.waitFor((m) => m.some((x) => predicate(x.value as EventEnvelope)));
    return messages.map((m) => m.value as EventEnvelope).filter(predicate);
  };
  const lease = async (
    leaseId: string,
    tenantId: string,
    committedGpus: allocation.CommittedGpus,
    options: { exclusive?: allocation.LeaseScope; term?: allocation.LeaseTerm } = {},
  ) => {
    await post('/leases', {
      leaseId,
      tenantId,
      term: options.term ?? TERM,
      committedGpus,
      exclusivity: options.exclusive ? 'exclusive' : 'shared',
      scope: options.exclusive ?? { hallIds: [], rackIds: [] },
      ratePlanId: 'rp-1',
      author: 'sales',
      at: tick(),
    }).expect(201);
    await post(`/leases/${leaseId}/activate`, { author: 'ops', at: tick() }).expect(201);
  };
  const quota = (
    tenantId: string,
    gpuClass: string,
    workloadClass: string,
    change: object,
    reason = 'initial',
  ) =>
    post(`/quotas/${tenantId}/${gpuClass}/${workloadClass}`, { change, reason, author: 'cap', at: tick() });
  const submit = (
    body: Partial<allocation.PlaceRequest> & { workloadId: string; tenantId: string; gpuCount: number },
  ) =>
    post('/workloads', { workloadClass: 'training', gang: true, priority: 10, requestedAt: tick(), ...body });

  beforeAll(async () => {
    service = await startTestService(AllocationModule, allocationService, { topicPrefix: prefix });
    collector = await new TopicCollector(testKafka()).start([topicName(Topics.allocationEvents, prefix)]);
    producer = testKafka('inventory-fake').producer();
    await producer.connect();
    // Hall 1: two H100 racks (64 GPUs), one H200 rack (32), one GB200 NVL72 rack (72);
    // hall 2: two H100 racks and one H200 rack.
    await publishInventory(
      fleetEvents([
        { racks: [{ gpuClass: 'H100' }, { gpuClass: 'H100' }, { gpuClass: 'H200' }, { gpuClass: 'GB200' }] },
        { racks: [{ gpuClass: 'H100' }, { gpuClass: 'H100' }, { gpuClass: 'H200' }] },
      ]),
      AT,
    );
    await waitUntil(
      async () => (await get('/utilization')).body.length === 3,
      60_000,
      'the fleet in the capacity view',
    );
  });

  afterAll(async () => {
    await producer?.disconnect();
    await collector?.stop();
    await service?.stop();
  });

  describe('(2) fallback says why', () => {
    it('serves the default routing policy, and putting it again changes nothing', async () => {
      const policy = await get('/routing-policy').expect(200);
      expect(policy.body).toMatchObject({
        source: 'default',
        routes: { inference: ['GB200', 'H200', 'H100'], agentic: ['H200', 'GB200', 'H100'] },
      });
      const again = await api(service.url)
        .put('/routing-policy')
        .send({ routes: policy.body.routes, reason: 'same', author: 'ops', at: tick() })
        .expect(200);
      expect(again.body).toMatchObject({ changed: false, source: 'default' });
    });

    it('inference lands on H200 when GB200 is full, and the reply, the event and the placement say so', async () => {
      await lease('lease-inf', 'inf', { GB200: 72, H200: 8 });
      // The quota would admit more GB200 work than the fleet has: the GPUs, not the quota, run out.
      await quota('inf', 'GB200', 'inference', { kind: 'set', nominal: 144, borrowLimit: 0 }).expect(201);
      await quota('inf', 'H200', 'inference', { kind: 'set', nominal: 8, borrowLimit: 0 }).expect(201);
      const first = await submit({
        workloadId: 'inf-1',
        tenantId: 'inf',
        workloadClass: 'inference',
        gpuCount: 72,
      });
      expect(first.body).toMatchObject({
        outcome: 'placed',
        gpuClass: 'GB200',
        requestedClass: 'GB200',
        routingReason: 'first choice',
      });
      const second = await submit({
        workloadId: 'inf-2',
        tenantId: 'inf',
        workloadClass: 'inference',
        gpuCount: 8,
      });
      expect(second.body).toMatchObject({ outcome: 'placed', gpuClass: 'H200', requestedClass: 'GB200' });
      expect(second.body.routingReason).toMatch(/^fallback: GB200 full \(0 free GB200 GPUs/);

      const [placed] = await events(
        (e) =>
          e.type === allocation.WorkloadPlaced.type &&
          (e.payload as { workloadId: string }).workloadId === 'inf-2',
      );
      expect((placed.payload as allocation.WorkloadPlacedPayload).routing).toEqual({
        requestedClass: 'GB200',
        reason: second.body.routingReason,
      });
      const rows = (await get('/placements?tenantId=inf').expect(200)).body;
      expect(rows.find((r: { workloadId: string }) => r.workloadId === 'inf-2')).toMatchObject({
        gpuClass: 'H200',
        requestedGpuClass: 'GB200',
        routingReason: second.body.routingReason,
      });
      await post('/workloads/inf-1/release', { requestedAt: tick() }).expect(200);
      await post('/workloads/inf-2/release', { requestedAt: tick() }).expect(200);
    });
  });

  describe('(1) exclusivity says which lease is in the way', () => {
    const FENCE_B_END = '2026-09-01T00:00:00.000Z';
    it('every H100 fenced: a request beyond what may ever free is rejected naming the fence; a smaller one waits for the fence that ends first, then runs', async () => {
      // excl-a fences hall 1's H100 racks for the whole year, excl-b hall 2's until September.
      await lease(
        'excl-a',
        'ta',
        { H100: 32 },
        { exclusive: { hallIds: [], rackIds: [rackId(1, 1), rackId(1, 2)] } },
      );
      await lease(
        'excl-b',
        'tb',
        { H100: 32 },
        {
          exclusive: { hallIds: [], rackIds: [rackId(2, 1), rackId(2, 2)] },
          term: { start: TERM.start, end: FENCE_B_END },
        },
      );
      await lease('shr', 'shr', { H100: 32 });
      await quota('shr', 'H100', 'training', { kind: 'set', nominal: 100, borrowLimit: 0 }).expect(201);

      const never = await submit({ workloadId: 'shr-70', tenantId: 'shr', gpuCount: 70 }).expect(201);
      expect(never.body).toMatchObject({ outcome: 'rejected', reason: 'lease-exclusive' });
      expect(never.body.detail).toMatch(/70 wanted, 64 usable before lease shr ends/);
      expect(never.body.detail).toMatch(
        /fenced by exclusive lease\(s\) excl-a \(ta, 64 GPUs, until 2027-01-01/,
      );

      const waits = await submit({ workloadId: 'shr-16', tenantId: 'shr', gpuCount: 16 }).expect(201);
      expect(waits.body).toMatchObject({ outcome: 'queued', reason: 'lease-exclusive' });
      expect(waits.body.detail).toMatch(
        /0 GPUs in shared capacity, 16 wanted; waits for exclusive lease\(s\) excl-b \(tb, 64 GPUs, until 2026-09-01/,
      );

      const [rejected] = await events(
        (e) =>
          e.type === allocation.WorkloadRejected.type &&
          (e.payload as { workloadId: string }).workloadId === 'shr-70',
      );
      expect(rejected.payload).toMatchObject({ reason: 'lease-exclusive', detail: never.body.detail });
      expect((await get('/workloads/shr-16').expect(200)).body).toMatchObject({
        status: 'queued',
        reason: 'lease-exclusive',
        detail: waits.body.detail,
      });

      // excl-b's term ends: the sweep lifts its fence and the waiting request runs on those racks.
      jumpTo(FENCE_B_END);
      await post('/leases/expire-due', { author: 'cron', at: tick() }).expect(200);
      const placed = (await get('/placements?tenantId=shr').expect(200)).body;
      expect(placed).toEqual([expect.objectContaining({ workloadId: 'shr-16', gpuClass: 'H100' })]);
      expect(placed[0].nodeIds.every((n: string) => n.startsWith('s1-h02-'))).toBe(true);
      await post('/workloads/shr-16/release', { requestedAt: tick() }).expect(200);
    });
  });

  describe('(9) commands are decided in time order', () => {
    it("a placement stamped before the ledger's latest decision is refused 409 stale-command and writes nothing", async () => {
      await lease('lease-tt', 'tt', { H200: 16 });
      await quota('tt', 'H200', 'training', { kind: 'set', nominal: 16, borrowLimit: 0 }).expect(201);
      const today = await submit({ workloadId: 'tt-today', tenantId: 'tt', gpuCount: 8 }).expect(201);
      expect(today.body).toMatchObject({ outcome: 'placed' });
      const latest = (await get('/workloads/tt-today').expect(200)).body;
      expect(latest.status).toBe('placed');

      const past = await submit({ workloadId: 'tt-past', tenantId: 'tt', gpuCount: 8, requestedAt: AT });
      expect(past.status).toBe(409);
      expect(past.body.error).toBe('stale-command');
      expect(past.body.message).toMatch(
        /stamped 2026-03-01T00:00:00.000Z, before the placement ledger's latest decision/,
      );
      await get('/workloads/tt-past').expect(404);
      const lateRelease = await post('/workloads/tt-today/release', { requestedAt: AT });
      expect(lateRelease.status).toBe(409);
      expect((await get('/workloads/tt-today').expect(200)).body.status).toBe('placed');

      // The next current command goes through; nothing of the refused ones reached the topic.
      await post('/workloads/tt-today/release', { requestedAt: tick() }).expect(200);
      const ledger = await events(
        (e) =>
          (e.payload as { tenantId?: string }).tenantId === 'tt' &&
          e.type === allocation.WorkloadReleased.type,
      );
      expect(ledger).toHaveLength(1);
      expect(
        collector.messages.some(
          (m) =>
            (m.value as EventEnvelope & { payload: { workloadId?: string } }).payload.workloadId ===
            'tt-past',
        ),
      ).toBe(false);
    });
  });

  describe('(4) queued work is re-evaluated', () => {
    const workload = async (id: string) => (await get(`/workloads/${id}`).expect(200)).body;
    it('a quota doubled places the queued request; freed capacity updates what the rest waits for and their queue positions', async () => {
      await lease('lease-q4', 'q4', { H200: 32 });
      await quota('q4', 'H200', 'training', { kind: 'set', nominal: 8, borrowLimit: 8 }).expect(201);
      await submit({ workloadId: 'q4-fill', tenantId: 'q4', gpuCount: 8 }).expect(201);
      const waits = await submit({ workloadId: 'q4-a', tenantId: 'q4', gpuCount: 16 }).expect(201);
      expect(waits.body).toMatchObject({ outcome: 'queued', reason: 'quota' });
      expect(await workload('q4-a')).toMatchObject({ status: 'queued', reason: 'quota', queuePosition: 1 });

      // "limits x2": the change re-drives the queue in the same transaction.
      await quota('q4', 'H200', 'training', { kind: 'multiply', factor: 2 }, 'Claude Code limits x2').expect(
        201,
      );
      expect(await workload('q4-a')).toMatchObject({ status: 'placed', queuePosition: null });
      const [placed] = await events(
        (e) =>
          e.type === allocation.WorkloadPlaced.type &&
          (e.payload as { workloadId: string }).workloadId === 'q4-a',
      );
      expect(placed.payload).toMatchObject({ gpuClass: 'H200', borrowed: true });

      // Fill H200 (64 GPUs: 8 inf's, 16 tt's committed but idle) and queue two more.
      await quota('q4', 'H200', 'training', { kind: 'set', nominal: 100, borrowLimit: 0 }).expect(201);
      const big = await submit({ workloadId: 'q4-big', tenantId: 'q4', gpuCount: 40 }).expect(201);
      expect(big.body).toMatchObject({ outcome: 'placed' });
      const w1 = await submit({ workloadId: 'q4-w1', tenantId: 'q4', gpuCount: 8, priority: 5 }).expect(201);
      expect(w1.body).toMatchObject({ outcome: 'queued', reason: 'capacity' });
      expect(w1.body.detail).toMatch(
        /^0 free H200 GPUs in shared capacity, 8 wanted; waits for GPUs to be released/,
      );
      await submit({ workloadId: 'q4-w2', tenantId: 'q4', gpuCount: 4, priority: 7 }).expect(201);
      const queue = (await get('/queue').expect(200)).body.filter(
        (q: { tenantId: string }) => q.tenantId === 'q4',
      );
      expect(queue.map((q: { workloadId: string; position: number }) => [q.workloadId, q.position])).toEqual([
        ['q4-w2', 1],
        ['q4-w1', 2],
      ]);

      // 8 GPUs free up: the higher priority (4 GPUs) runs, the other now says 4 are free and is first in line.
      await post('/workloads/q4-fill/release', { requestedAt: tick() }).expect(200);
      expect(await workload('q4-w2')).toMatchObject({ status: 'placed' });
      const still = await workload('q4-w1');
      expect(still).toMatchObject({ status: 'queued', reason: 'capacity', queuePosition: 1 });
      expect(still.detail).toMatch(/^4 free H200 GPUs in shared capacity, 8 wanted/);
      const requeued = await events(
        (e) =>
          e.type === allocation.WorkloadQueued.type &&
          (e.payload as { workloadId: string }).workloadId === 'q4-w1' &&
          (e.payload as { detail: string }).detail.startsWith('4 free'),
      );
      expect(requeued).toHaveLength(1);

      for (const id of ['q4-big', 'q4-a', 'q4-w2'])
        await post(`/workloads/${id}/release`, { requestedAt: tick() }).expect(200);
      expect(await workload('q4-w1')).toMatchObject({ status: 'placed' });
      await post('/workloads/q4-w1/release', { requestedAt: tick() }).expect(200);
    });
  });

  describe('(3) a power cap binds placement', () => {
    const budget = (
      scopeId: string,
      hallId: string,
      fromW: number,
      toW: number,
    ): inventory.InventoryEvent => ({
      type: 'inventory.PowerBudgetChanged',
      payload: { scope: 'rack', scopeId, siteId: 's1', hallId, fromW, toW, reason: 'grid limit' },
    });
    const rackPower = async (id: string) => (await get(`/power?scope=rack&id=${id}`).expect(200)).body[0];

    it('racks capped below nominal draw: one node fits the headroom, the next placement waits with power-headroom, a raised cap lets it run', async () => {
      const capped = rackId(2, 3);
      // Inventory caps both H200 racks below their 40,800 W nominal draw (4 nodes, 3,060 W idle each).
      await publishInventory([
        budget(rackId(1, 3), 's1-h01', 40_800, 12_240),
        budget(capped, 's1-h02', 40_800, 20_000),
      ]);
      await waitUntil(
        async () => (await rackPower(capped)).budgetW === 20_000,
        30_000,
        'the cap in allocation',
      );
      expect(await rackPower(capped)).toEqual({
        scope: 'rack',
        id: capped,
        budgetW: 20_000,
        drawW: 12_240,
        idleDrawW: 12_240,
        headroomW: 7_760,
      });
      const site = (await get('/power?scope=site').expect(200)).body[0];
      expect(site).toMatchObject({ id: 's1', budgetW: 300_000_000 });
      expect(site.drawW).toBeGreaterThanOrEqual(site.idleDrawW);

      await lease('lease-p3', 'p3', { H200: 8 });
      await quota('p3', 'H200', 'training', { kind: 'set', nominal: 16, borrowLimit: 0 }).expect(201);
      const first = await submit({ workloadId: 'p3-1', tenantId: 'p3', gpuCount: 8 }).expect(201);
      expect(first.body).toMatchObject({ outcome: 'placed', gpuClass: 'H200' });
      expect(first.body.nodeIds[0].startsWith(capped)).toBe(true);
      expect(await rackPower(capped)).toMatchObject({ drawW: 19_380, headroomW: 620 });

      const second = await submit({ workloadId: 'p3-2', tenantId: 'p3', gpuCount: 8 }).expect(201);
      expect(second.body).toMatchObject({ outcome: 'queued', reason: 'power-headroom' });
      expect(second.body.detail).toMatch(
        /power budgets leave no headroom for 8 more H200 GPUs \(rack s1-h0[12]-r003: budget \d+ W, draw \d+ W, headroom \d+ W, 7140 W more needed\)/,
      );
      const [queued] = await events(
        (e) =>
          e.type === allocation.WorkloadQueued.type &&
          (e.payload as { workloadId: string }).workloadId === 'p3-2',
      );
      expect(queued.payload).toMatchObject({ reason: 'power-headroom', detail: second.body.detail });
      expect((await get('/workloads/p3-2').expect(200)).body).toMatchObject({
        status: 'queued',
        reason: 'power-headroom',
      });

      // The cap is raised: the budget change re-drives the queue.
      await publishInventory([budget(capped, 's1-h02', 20_000, 40_800)]);
      await waitUntil(
        async () => (await get('/workloads/p3-2').expect(200)).body.status === 'placed',
        30_000,
        'p3-2 placed after the cap was raised',
      );
      expect(await rackPower(capped)).toMatchObject({ budgetW: 40_800, drawW: 26_520, headroomW: 14_280 });
      for (const id of ['p3-1', 'p3-2'])
        await post(`/workloads/${id}/release`, { requestedAt: tick() }).expect(200);
    });
  });

  describe('(8) a workload shows its history', () => {
    it('placed, evicted by a failed GPU and re-placed, preempted, queued and placed again: each step with its time and reason', async () => {
      await lease('lease-h8', 'h8', { H100: 32 });
      await quota('h8', 'H100', 'training', { kind: 'set', nominal: 100, borrowLimit: 0 }).expect(201);
      const low = await submit({ workloadId: 'h8-low', tenantId: 'h8', gpuCount: 8, priority: 1 }).expect(
        201,
      );
      expect(low.body).toMatchObject({ outcome: 'placed', gpuClass: 'H100' });
      const failed = low.body.gpuIds[0] as string;
      const failedAt = tick();
      await publishInventory(
        [
          {
            type: 'inventory.GpuHealthChanged',
            payload: {
              gpuId: failed,
              nodeId: failed.replace(/-g\d+$/, ''),
              rackId: failed.replace(/-n\d+-g\d+$/, ''),
              hallId: failed.replace(/-r\d+-n\d+-g\d+$/, ''),
              gpuClass: 'H100',
              from: 'healthy',
              to: 'failed',
              health: 'failed',
              reason: 'XID 79',
            },
          },
        ],
        failedAt,
      );
      await waitUntil(
        async () => (await get('/workloads/h8-low').expect(200)).body.history.length >= 4,
        30_000,
        'the eviction and re-placement of h8-low',
      );
      // 63 healthy shared H100 left, 8 held by h8-low: a 56-GPU job of higher priority preempts it.
      const high = await submit({ workloadId: 'h8-high', tenantId: 'h8', gpuCount: 56, priority: 9 }).expect(
        201,
      );
      expect(high.body).toMatchObject({ outcome: 'placed', preempted: ['h8-low'] });
      await post('/workloads/h8-high/release', { requestedAt: tick() }).expect(200);

      const body = (await get('/workloads/h8-low').expect(200)).body;
      expect(body).toMatchObject({ status: 'placed', queuePosition: null });
      expect(body.history.map((h: { kind: string; reason: string | null }) => [h.kind, h.reason])).toEqual([
        ['submitted', null],
        ['placed', null],
        ['evicted', 'gpu-failed'],
        ['placed', null],
        ['preempted', 'priority'],
        ['queued', 'capacity'],
        ['placed', null],
      ]);
      expect(body.history[0]).toMatchObject({ gpuCount: 8 });
      expect(body.history[1]).toMatchObject({
        placementId: 'h8-low#1',
        gpuClass: 'H100',
        detail: 'first choice',
      });
      expect(body.history[2]).toMatchObject({
        placementId: 'h8-low#1',
        at: failedAt,
        detail: `GPUs ${failed}`,
      });
      expect(body.history[3]).toMatchObject({ placementId: 'h8-low#2' });
      expect(body.history[4]).toMatchObject({ placementId: 'h8-low#2', detail: 'preempted by h8-high' });
      expect(body.history[6]).toMatchObject({ placementId: 'h8-low#3' });
      await post('/workloads/h8-low/release', { requestedAt: tick() }).expect(200);
    });

    it('rebuilding the allocation projections from the log gives the live rows (history and queue order included)', async () => {
      const { compareProjection, EventStore, rebuildProjection } = await import('@fleetledger/eventstore');
      const { ownProjections } = await import('../src/handlers/allocation-engine');
      const dataSource = await service.db.adminDataSource();
      const store = service.app.get(EventStore);
      for (const projection of ownProjections) {
        const rebuilt = await rebuildProjection(dataSource, store, projection, {
          targetSchema: `alloc15_rebuild_${projection.name.replace(/-/g, '_')}`,
          batchSize: 1000,
        });
        const comparisons = await compareProjection(
          dataSource,
          projection,
          'allocation',
          rebuilt.targetSchema,
        );
        expect(comparisons.map((c) => [c.table, c.equal])).toEqual(projection.tables.map((t) => [t, true]));
      }
      // The migration that created workload_history fills it from the log by the projection's rules.
      const { workloadHistoryFromLog } = await import('../src/migrations/1766000000200-workload-history');
      const [diff] = await dataSource.query(
        `SELECT (SELECT count(*) FROM (${workloadHistoryFromLog('allocation')} EXCEPT SELECT * FROM allocation.workload_history) a)::int AS missing,
                (SELECT count(*) FROM (SELECT * FROM allocation.workload_history EXCEPT ${workloadHistoryFromLog('allocation')}) b)::int AS extra,
                (SELECT count(*) FROM allocation.workload_history)::int AS total`,
      );
      expect(diff).toMatchObject({ missing: 0, extra: 0 });
      expect(diff.total).toBeGreaterThan(30);
    });
  });
});
