import { allocation, EventEnvelope, inventory, topicName, Topics } from '@fleetledger/contracts';
import { compareProjection, EventStore, rebuildProjection } from '@fleetledger/eventstore';
import { Messaging } from '@fleetledger/platform';
import {
  api,
  startTestService,
  testKafka,
  TestService,
  testCallerToken,
  TopicCollector,
  testToken,
  uniqueTopicPrefix,
  waitUntil,
} from '@fleetledger/testing';
import { Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { v7 as uuidv7 } from 'uuid';
import { fleetEvents, rackId } from './fleet-builder';

// The Kafka request/reply patterns carry the deployment prefix, read when the module loads: set it first.
const prefix = uniqueTopicPrefix();
process.env.KAFKA_TOPIC_PREFIX = prefix;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { AllocationModule } = require('../src/allocation.module') as typeof import('../src/allocation.module');
const { allocationService } =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../src/allocation.options') as typeof import('../src/allocation.options');
const { ownProjections } =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../src/handlers/allocation-engine') as typeof import('../src/handlers/allocation-engine');
const { fleetGpusProjection } =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../src/projections/fleet-gpus.projection') as typeof import('../src/projections/fleet-gpus.projection');

const TERM = { start: '2026-01-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' };
const AT = '2026-03-01T00:00:00.000Z';

function envelope(event: inventory.InventoryEvent, n: number): EventEnvelope {
  return {
    eventId: uuidv7(),
    type: event.type,
    schemaVersion: 1,
    streamId: 'inventory-test',
    streamVersion: n,
    globalPosition: n,
    occurredAt: AT,
    recordedAt: AT,
    correlationId: 'fleet-setup',
    payload: event.payload,
  };
}

describe('allocation service on real Kafka and PostgreSQL', () => {
  let service: TestService;
  let collector: TopicCollector;
  let producer: Producer;
  let sent = 0;
  const publishInventory = async (events: inventory.InventoryEvent[]) => {
    await producer.send({
      topic: topicName(Topics.inventoryEvents, prefix),
      messages: events.map((e) => ({ key: 'inventory-test', value: JSON.stringify(envelope(e, ++sent)) })),
    });
  };
  const post = (path: string, body: object) => api(service.url).post(path).send(body);

  beforeAll(async () => {
    service = await startTestService(AllocationModule, allocationService, { topicPrefix: prefix });
    collector = await new TopicCollector(testKafka()).start([topicName(Topics.allocationEvents, prefix)]);
    producer = testKafka('inventory-fake', 'inventory').producer();
    await producer.connect();
    // Two H100 racks (64 GPUs) and one GB200 NVL72 rack, as inventory would publish them.
    await publishInventory(
      fleetEvents([{ racks: [{ gpuClass: 'H100' }, { gpuClass: 'H100' }, { gpuClass: 'GB200' }] }]),
    );
    await waitUntil(
      async () => {
        const res = await api(service.url).get('/utilization');
        return res.body.length === 2;
      },
      60_000,
      'the fleet in the capacity view',
    );
  });

  afterAll(async () => {
    await producer?.disconnect();
    await collector?.stop();
    await service?.stop();
  });

  it('lease, quota (doubled) and placements flow to the topic and the projections', async () => {
    await post('/leases', {
      leaseId: 'lease-acme',
      tenantId: 'acme',
      term: TERM,
      committedGpus: { H100: 32, GB200: 36 },
      exclusivity: 'shared',
      ratePlanId: 'rp-1',
      author: 'sales',
      at: AT,
    }).expect(201);
    await post('/leases/lease-acme/activate', { author: 'ops', at: AT }).expect(201);
    const overlap = await post('/leases', {
      leaseId: 'too-big',
      tenantId: 'beta',
      term: TERM,
      committedGpus: { H100: 40 },
      exclusivity: 'shared',
      ratePlanId: 'rp-1',
      author: 'sales',
      at: AT,
    });
    expect(overlap.status).toBe(422);
    expect(overlap.body.error).toBe('beyond-fleet');

    await post('/quotas/acme/H100/training', {
      change: { kind: 'set', nominal: 16, borrowLimit: 0 },
      reason: 'initial',
      author: 'cap',
      at: AT,
    }).expect(201);
    const first = await post('/workloads', {
      workloadId: 'train-1',
      tenantId: 'acme',
      workloadClass: 'training',
      gpuCount: 16,
      gang: true,
      priority: 10,
      requestedAt: AT,
    }).expect(201);
    expect(first.body).toMatchObject({ outcome: 'placed', gpuClass: 'H100', leaseId: 'lease-acme' });
    expect(first.body.gpuIds).toHaveLength(16);
    const second = await post('/workloads', {
      workloadId: 'train-2',
      tenantId: 'acme',
      workloadClass: 'training',
      gpuCount: 16,
      gang: true,
      priority: 10,
      requestedAt: AT,
    }).expect(201);
    expect(second.body).toMatchObject({ outcome: 'queued', reason: 'quota' });

    const doubled = await post('/quotas/acme/H100/training', {
      change: { kind: 'multiply', factor: 2 },
      reason: 'Claude Code limits x2',
      author: 'cap',
      at: AT,
    }).expect(201);
    expect(doubled.body).toMatchObject({ nominal: 32, previous: { nominal: 16 } });
    // The quota change re-drives the queue (issue #15): train-2 fits the doubled quota at once.
    const queue = await api(service.url).get('/queue').expect(200);
    expect(queue.body).toEqual([]);
    // Commands are decided in time order: the release is stamped no earlier than the ledger's latest event.
    await post('/workloads/train-1/release', { requestedAt: AT }).expect(200);

    const history = await api(service.url).get('/quotas/acme/history').expect(200);
    expect(history.body.map((h: { reason: string }) => h.reason)).toEqual([
      'initial',
      'Claude Code limits x2',
    ]);

    await service.app.get(Messaging).flushOutbox();
    const messages = await collector.waitFor(
      (m) =>
        m.some((x) => (x.value as EventEnvelope).type === allocation.WorkloadReleased.type) && m.length >= 10,
    );
    const types = messages.map((m) => (m.value as EventEnvelope).type.replace('allocation.', ''));
    expect(types).toEqual(
      expect.arrayContaining([
        'LeaseSigned',
        'LeaseActivated',
        'QuotaChanged',
        'WorkloadSubmitted',
        'WorkloadPlaced',
        'WorkloadQueued',
        'WorkloadReleased',
      ]),
    );
    const ledger = messages
      .filter((m) => m.message.key?.toString() === allocation.AllocationStreams.placementLedger)
      .map((m) => (m.value as EventEnvelope).type.replace('allocation.Workload', ''));
    expect(ledger).toEqual(['Submitted', 'Placed', 'Submitted', 'Queued', 'Placed', 'Released']);
  });

  it('a failed GPU evicts its placement and places it again; the events reach the topic', async () => {
    const [placement] = (await api(service.url).get('/placements?tenantId=acme').expect(200)).body;
    const failed = placement.gpuIds[0];
    await publishInventory([
      {
        type: 'inventory.GpuHealthChanged',
        payload: {
          gpuId: failed,
          nodeId: placement.nodeIds[0],
          rackId: rackId(1, 1),
          hallId: 's1-h01',
          gpuClass: 'H100',
          from: 'healthy',
          to: 'failed',
          health: 'failed',
          reason: 'xid 79',
        },
      },
    ]);
    await waitUntil(
      async () =>
        (await api(service.url).get('/placements?tenantId=acme')).body[0]?.placementId === 'train-2#2',
      30_000,
      'the re-placement',
    );
    const [again] = (await api(service.url).get('/placements?tenantId=acme')).body;
    expect(again.gpuIds).not.toContain(failed);
    const utilization = (await api(service.url).get('/utilization')).body.find(
      (u: { gpuClass: string }) => u.gpuClass === 'H100',
    );
    expect(utilization).toMatchObject({ allocated: 16, healthy: 63 });
    await service.app.get(Messaging).flushOutbox();
    const messages = await collector.waitFor((m) =>
      m.some((x) => (x.value as EventEnvelope).type === allocation.WorkloadEvicted.type),
    );
    const evicted = messages.find((x) => (x.value as EventEnvelope).type === allocation.WorkloadEvicted.type)!
      .value as EventEnvelope<string, allocation.WorkloadEvictedPayload>;
    expect(evicted.payload).toMatchObject({
      workloadId: 'train-2',
      placementId: 'train-2#1',
      cause: 'gpu-failed',
      affectedGpuIds: [failed],
    });
  });

  it('concurrent submissions never put one GPU in two placements', async () => {
    await post('/quotas/acme/H100/agentic', {
      change: { kind: 'set', nominal: 1000, borrowLimit: 0 },
      reason: 'burst',
      author: 'cap',
      at: AT,
    }).expect(201);
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post('/workloads', {
          workloadId: `burst-${i}`,
          tenantId: 'acme',
          workloadClass: 'agentic',
          gpuCount: 8,
          gang: true,
          priority: 5,
          requestedAt: AT,
        }),
      ),
    );
    expect(replies.every((r) => r.status === 201)).toBe(true);
    const placed = replies.filter((r) => r.body.outcome === 'placed').length;
    expect(placed).toBe(5); // 63 healthy H100, 16 held by train-2: 47 free = 5 whole 8-GPU workloads (routing: H200 absent, GB200 not leased for agentic quota)
    const rows: { gpu_id: string; n: string }[] = await service.app
      .get(DataSource)
      .query(
        `SELECT gpu_id, count(*) AS n FROM allocation.placements, unnest(gpu_ids) AS gpu_id WHERE ended_at IS NULL GROUP BY gpu_id HAVING count(*) > 1`,
      );
    expect(rows).toEqual([]);
  });

  // Before the replica test: a second replica joining and leaving the request/reply consumer group
  // rebalances it, and a request sent meanwhile may wait out the rebalance.
  it('answers allocation.place and allocation.release over Kafka request/reply', async () => {
    const kafka = testKafka('rpc-caller');
    const admin = kafka.admin();
    await admin.connect();
    // No service calls allocation over Kafka today, so no service user may write its request topics:
    // the caller here is the test's admin (libs/contracts/src/kafka-acls.ts).
    const caller = kafka.producer();
    await caller.connect();
    const collectors = new Map<string, TopicCollector>();
    /** Sends one request the way a Nest Kafka client does and returns the reply's body. */
    const call = async (
      pattern: string,
      payload: object,
      correlationId: string,
      token: string | null = testCallerToken(),
    ): Promise<unknown> => {
      const replyTopic = `${prefix}${pattern}.reply`;
      let replies = collectors.get(replyTopic);
      if (!replies) {
        await admin.createTopics({ topics: [{ topic: replyTopic, numPartitions: 1 }], waitForLeaders: true });
        replies = await new TopicCollector(kafka).start([replyTopic]);
        collectors.set(replyTopic, replies);
      }
      await caller.send({
        topic: `${prefix}${pattern}`,
        messages: [
          {
            value: JSON.stringify(payload),
            headers: {
              kafka_correlationId: correlationId,
              kafka_replyTopic: replyTopic,
              kafka_replyPartition: '0',
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
          },
        ],
      });
      const messages = await replies.waitFor(
        (m) => m.some((x) => x.headers.kafka_correlationId === correlationId),
        60_000,
      );
      const reply = messages.find((m) => m.headers.kafka_correlationId === correlationId)!;
      // Nest sends a refusal (or any error) as JSON in the `kafka_nest-err` header.
      if (reply.headers['kafka_nest-err']) return { err: JSON.parse(reply.headers['kafka_nest-err']) };
      const body = reply.value as { response?: unknown };
      return body.response ?? body;
    };
    const placementsOf = async (workloadId: string) =>
      (
        await service.app
          .get(DataSource)
          .query(`SELECT 1 FROM allocation.placements WHERE workload_id = $1`, [workloadId])
      ).length;
    const inference36 = (workloadId: string) => ({
      workloadId,
      tenantId: 'acme',
      workloadClass: 'inference',
      gpuCount: 36,
      gang: true,
      priority: 50,
      requestedAt: AT,
    });
    try {
      await post('/quotas/acme/GB200/inference', {
        change: { kind: 'set', nominal: 36, borrowLimit: 0 },
        reason: 'rpc',
        author: 'cap',
        at: AT,
      }).expect(201);
      // Who may ask: a request without a token, or from a tenant, is refused and nothing is placed.
      expect(await call('allocation.place', inference36('rpc-0'), 'c-anon', null)).toMatchObject({
        err: { error: { statusCode: 401, error: 'unauthorized', details: { reason: 'missing-token' } } },
      });
      const tenantToken = await testToken({ roles: ['tenant'], tenant: 'acme' });
      expect(await call('allocation.place', inference36('rpc-0'), 'c-tenant', tenantToken)).toMatchObject({
        err: { error: { statusCode: 403, error: 'role-required' } },
      });
      expect(await placementsOf('rpc-0')).toBe(0);
      expect(await call('allocation.place', inference36('rpc-1'), 'c-1')).toMatchObject({
        outcome: 'placed',
        gpuClass: 'GB200',
        workloadId: 'rpc-1',
      });
      // Releasing twice: the second answer says the workload is no longer placed.
      const release = { workloadId: 'rpc-1', requestedAt: AT };
      expect(await call('allocation.release', release, 'r-1')).toMatchObject({
        outcome: 'released',
        workloadId: 'rpc-1',
      });
      expect(await call('allocation.release', release, 'r-2')).toMatchObject({
        outcome: 'not-placed',
        workloadId: 'rpc-1',
        reason: 'not-placed',
      });
      // A refused command's reply carries the taxonomy's reason, as the HTTP error body does.
      expect(await call('allocation.place', inference36('rpc-1'), 'c-dup')).toMatchObject({
        outcome: 'rejected',
        reason: 'duplicate',
      });
      const stale = { ...inference36('rpc-stale'), requestedAt: '2000-01-01T00:00:00.000Z' };
      expect(await call('allocation.place', stale, 'c-stale')).toMatchObject({
        outcome: 'rejected',
        workloadId: 'rpc-stale',
        reason: 'stale-command',
        detail: expect.stringContaining('time order'),
      });
      expect(await placementsOf('rpc-stale')).toBe(0);
      // Take the 36 GB200 GPUs again: the replica test below counts on what is left free.
      const again = await post('/workloads', inference36('rpc-2')).expect(201);
      expect(again.body).toMatchObject({ outcome: 'placed', gpuClass: 'GB200' });
    } finally {
      for (const collector of collectors.values()) await collector.stop();
      await caller.disconnect();
      await admin.disconnect();
    }
  });

  it('two replicas deciding at once never put one GPU in two placements (expected stream versions)', async () => {
    const replica = await startTestService(AllocationModule, allocationService, {
      db: service.db,
      topicPrefix: prefix,
      env: { CONSUMERS: 'false', OUTBOX_RELAY: 'false' },
    });
    delete process.env.CONSUMERS;
    delete process.env.OUTBOX_RELAY;
    try {
      // H100 is full; agentic work routes on to GB200 (36 of 72 GPUs free after the request/reply test): 16 x 8 GPUs compete for 4 slots.
      // The quota change below re-drives the queue (issue #15): take the burst work still queued off it first.
      for (const { workloadId } of (await api(service.url).get('/queue').expect(200)).body as {
        workloadId: string;
      }[])
        await post(`/workloads/${workloadId}/withdraw`, { requestedAt: AT }).expect(200);
      await post('/quotas/acme/GB200/agentic', {
        change: { kind: 'set', nominal: 1000, borrowLimit: 0 },
        reason: 'race',
        author: 'cap',
        at: AT,
      }).expect(201);
      const urls = [service.url, replica.url];
      const replies = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          api(urls[i % 2])
            .post('/workloads')
            .send({
              workloadId: `race-${i}`,
              tenantId: 'acme',
              workloadClass: 'agentic',
              gpuCount: 8,
              gang: true,
              priority: 5,
              requestedAt: AT,
            }),
        ),
      );
      expect(replies.map((r) => r.status).filter((s) => s !== 201 && s !== 409)).toEqual([]);
      const dataSource = service.app.get(DataSource);
      const doubled: { gpu_id: string }[] = await dataSource.query(
        `SELECT gpu_id FROM allocation.placements, unnest(gpu_ids) AS gpu_id WHERE ended_at IS NULL GROUP BY gpu_id HAVING count(*) > 1`,
      );
      expect(doubled).toEqual([]);
      const [{ n }] = await dataSource.query(
        `SELECT count(*)::int AS n FROM allocation.placements WHERE ended_at IS NULL AND workload_id LIKE 'race-%'`,
      );
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThanOrEqual(4);
      expect(replies.filter((r) => r.body.outcome === 'placed')).toHaveLength(n);
      // Each release lets queued race work in: release until none is left.
      for (let round = 0; round < 5; round++) {
        const active: { workload_id: string }[] = await dataSource.query(
          `SELECT workload_id FROM allocation.placements WHERE ended_at IS NULL AND workload_id LIKE 'race-%'`,
        );
        for (const { workload_id } of active)
          await post(`/workloads/${workload_id}/release`, { requestedAt: AT }).expect(200);
      }
    } finally {
      await replica.app.close();
    }
  });

  describe('a second site with one H200 rack, leased exclusively to `temp` until June', () => {
    const END = '2026-06-01T00:00:00.000Z';
    const AFTER = '2026-06-01T00:01:00.000Z';
    const H200_RACK = 's2-h01-r001';
    const get = (path: string) => api(service.url).get(path);
    const submit = (workloadId: string, tenantId: string, gpuCount: number, requestedAt: string) =>
      post('/workloads', {
        workloadId,
        tenantId,
        workloadClass: 'training',
        gpuCount,
        gang: true,
        priority: 10,
        requestedAt,
      }).expect(201);
    const ledgerEvents = async (type: string, count = 1) => {
      await service.app.get(Messaging).flushOutbox();
      const messages = await collector.waitFor(
        (m) => m.filter((x) => (x.value as EventEnvelope).type === type).length >= count,
      );
      return messages.filter((x) => (x.value as EventEnvelope).type === type);
    };

    beforeAll(async () => {
      await publishInventory(fleetEvents([{ racks: [{ gpuClass: 'H200' }] }], { siteId: 's2' }));
      await waitUntil(
        async () => (await get('/utilization')).body.length === 3,
        60_000,
        'the H200 rack in the capacity view',
      );
      const lease = (leaseId: string, tenantId: string, term: object, exclusive: boolean) =>
        post('/leases', {
          leaseId,
          tenantId,
          term,
          committedGpus: { H200: 32 },
          exclusivity: exclusive ? 'exclusive' : 'shared',
          ...(exclusive ? { scope: { hallIds: [], rackIds: [H200_RACK] } } : {}),
          ratePlanId: 'rp-1',
          author: 'sales',
          at: AT,
        }).expect(201);
      await lease('lease-temp', 'temp', { start: TERM.start, end: END }, true);
      await lease('lease-next', 'next', { start: END, end: TERM.end }, false);
      for (const [leaseId, tenant] of [
        ['lease-temp', 'temp'],
        ['lease-next', 'next'],
      ]) {
        await post(`/leases/${leaseId}/activate`, { author: 'ops', at: AT }).expect(201);
        await post(`/quotas/${tenant}/H200/training`, {
          change: { kind: 'set', nominal: 32, borrowLimit: 0 },
          reason: 'initial',
          author: 'cap',
          at: AT,
        }).expect(201);
      }
    });

    it('the lease ends at term end: its fence stops, its tenant is refused, and the sweep evicts its work', async () => {
      expect((await submit('temp-job', 'temp', 16, AT)).body).toMatchObject({
        outcome: 'placed',
        gpuClass: 'H200',
        leaseId: 'lease-temp',
      });
      // From term end on, before any sweep: another tenant is placed on the racks, the owner is refused.
      expect((await submit('next-1', 'next', 8, END)).body).toMatchObject({
        outcome: 'placed',
        leaseId: 'lease-next',
      });
      expect((await submit('temp-late', 'temp', 8, END)).body).toMatchObject({
        outcome: 'rejected',
        reason: 'lease-expired',
      });

      const sweep = await post('/leases/expire-due', { author: 'cron', at: AFTER }).expect(200);
      expect(sweep.body).toMatchObject({ expired: ['lease-temp'], evicted: ['temp-job#1'] });
      expect((await get('/leases/lease-temp').expect(200)).body.status).toBe('expired');
      expect((await get('/placements?tenantId=temp').expect(200)).body).toEqual([]);
      expect((await get('/workloads/temp-job').expect(200)).body).toMatchObject({
        status: 'rejected',
        reason: 'lease-expired',
      });
      // Nothing more is due: a second sweep appends nothing.
      expect(
        (await post('/leases/expire-due', { author: 'cron', at: AFTER }).expect(200)).body,
      ).toMatchObject({
        expired: [],
        evicted: [],
        events: [],
      });

      const [expired] = await ledgerEvents(allocation.LeaseExpired.type);
      expect(expired.message.key?.toString()).toBe(allocation.AllocationStreams.leaseBook);
      expect((expired.value as EventEnvelope).payload).toMatchObject({ leaseId: 'lease-temp', termEnd: END });
      const evicted = (await ledgerEvents(allocation.WorkloadEvicted.type, 2))
        .map((m) => m.value as EventEnvelope<string, allocation.WorkloadEvictedPayload>)
        .find((e) => e.payload.cause === 'lease-ended')!;
      expect(evicted.streamId).toBe(allocation.AllocationStreams.placementLedger);
      expect(evicted.payload).toMatchObject({
        placementId: 'temp-job#1',
        leaseId: 'lease-temp',
        evictedAt: AFTER,
      });
    });

    it('a queued workload is withdrawn; a placed or unknown one is not', async () => {
      // next-1 runs 8 of next's 32 H200 quota: a 32-GPU gang waits.
      expect((await submit('next-big', 'next', 32, AFTER)).body).toMatchObject({
        outcome: 'queued',
        reason: 'quota',
      });
      expect(
        (await get('/queue').expect(200)).body.map((q: { workloadId: string }) => q.workloadId),
      ).toContain('next-big');
      const withdrawn = await post('/workloads/next-big/withdraw', {
        requestedAt: AFTER,
        reason: 'job cancelled',
      }).expect(200);
      expect(withdrawn.body).toEqual({ outcome: 'withdrawn', workloadId: 'next-big' });
      expect(
        (await get('/queue').expect(200)).body.map((q: { workloadId: string }) => q.workloadId),
      ).not.toContain('next-big');
      expect((await get('/workloads/next-big').expect(200)).body).toMatchObject({
        status: 'withdrawn',
        detail: 'job cancelled',
      });
      const placed = await post('/workloads/next-1/withdraw', { requestedAt: AFTER });
      expect(placed.status).toBe(409);
      expect(placed.body.error).toBe('not-queued');
      expect((await post('/workloads/ghost/withdraw', {})).status).toBe(404);

      await service.app.get(Messaging).flushOutbox();
      const withdrawnBig = (m: { value: unknown }) =>
        (m.value as EventEnvelope).type === allocation.WorkloadWithdrawn.type &&
        ((m.value as EventEnvelope).payload as { workloadId: string }).workloadId === 'next-big';
      const event = (await collector.waitFor((m) => m.some(withdrawnBig))).find(withdrawnBig)!;
      expect((event.value as EventEnvelope).payload).toEqual({
        workloadId: 'next-big',
        tenantId: 'next',
        workloadClass: 'training',
        withdrawnAt: AFTER,
        reason: 'job cancelled',
      });
    });

    it("a request refused only by its quota preempts the tenant's lower-priority work in that scope", async () => {
      // next runs next-1 (8 of its 32 H200 training quota); a priority-1 job takes the other 24.
      expect(
        (
          await post('/workloads', {
            workloadId: 'next-low',
            tenantId: 'next',
            workloadClass: 'training',
            gpuCount: 24,
            gang: true,
            priority: 1,
            requestedAt: AFTER,
          }).expect(201)
        ).body,
      ).toMatchObject({ outcome: 'placed' });
      const urgent = await post('/workloads', {
        workloadId: 'next-urgent',
        tenantId: 'next',
        workloadClass: 'training',
        gpuCount: 8,
        gang: true,
        priority: 50,
        requestedAt: AFTER,
      }).expect(201);
      expect(urgent.body).toMatchObject({ outcome: 'placed', gpuClass: 'H200', preempted: ['next-low'] });
      expect((await get('/workloads/next-low').expect(200)).body).toMatchObject({
        status: 'queued',
        reason: 'quota',
      });
      const [preempted] = await ledgerEvents(allocation.WorkloadPreempted.type);
      expect((preempted.value as EventEnvelope).payload).toMatchObject({
        workloadId: 'next-low',
        preemptedBy: 'next-urgent',
        cause: 'priority',
      });
    });
  });

  it('rebuilding every projection from the log gives the live rows', async () => {
    // Scratch schemas for the rebuilds: only the administrator may create schemas.
    const dataSource = await service.db.adminDataSource();
    const store = service.app.get(EventStore);
    // The log holds every kind of lifecycle event by now (this test runs last).
    const types: { type: string }[] = await dataSource.query(`SELECT DISTINCT type FROM allocation.events`);
    expect(types.map((t) => t.type.replace('allocation.', '')).sort()).toEqual(
      expect.arrayContaining(['LeaseExpired', 'WorkloadEvicted', 'WorkloadPreempted', 'WorkloadWithdrawn']),
    );
    // One event at a time and in big batches (the batch appliers fold a batch into a few statements):
    // both give the live rows, which were written one group commit at a time.
    for (const projection of [...ownProjections, fleetGpusProjection]) {
      for (const batchSize of [1, 5000]) {
        const rebuilt = await rebuildProjection(dataSource, store, projection, {
          targetSchema: `allocation_rebuild_${projection.name.replace(/-/g, '_')}_${batchSize}`,
          batchSize,
        });
        const comparisons = await compareProjection(
          dataSource,
          projection,
          'allocation',
          rebuilt.targetSchema,
        );
        expect(comparisons.length).toBe(projection.tables.length);
        for (const comparison of comparisons)
          expect({
            projection: projection.name,
            batchSize,
            table: comparison.table,
            equal: comparison.equal,
          }).toEqual({
            projection: projection.name,
            batchSize,
            table: comparison.table,
            equal: true,
          });
      }
    }
  });
});
