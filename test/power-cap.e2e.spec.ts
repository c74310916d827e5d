import {
  api,
  startTestService,
  TestDatabase,
  TestService,
  uniqueTopicPrefix,
  waitUntil,
} from '@fleetledger/testing';

/**
 * Issue #15 (3), across inventory and allocation: one power model. An operator caps a rack below its
 * nominal draw in inventory (a cap, accepted; below its idle draw it is refused), allocation counts
 * idle draw plus the share of every busy GPU against that cap, shows it (GET /power), places what fits
 * and queues the rest with `power-headroom`; raising the cap lets the queued work run.
 */
describe('a power cap set in inventory binds placement in allocation', () => {
  const RACK = 'pc1-h01-r001';
  let db: TestDatabase;
  let inventory: TestService;
  let allocation: TestService;
  const inv = () => api(inventory.url);
  const alloc = () => api(allocation.url);
  const rackPower = async () => (await alloc().get(`/power?scope=rack&id=${RACK}`).expect(200)).body[0];

  beforeAll(async () => {
    const topicPrefix = uniqueTopicPrefix();
    process.env.KAFKA_TOPIC_PREFIX = topicPrefix;
    db = await TestDatabase.create('fl_power');
    const { InventoryModule } = await import('../apps/inventory/src/inventory.module');
    const { inventoryService } = await import('../apps/inventory/src/inventory.options');
    inventory = await startTestService(InventoryModule, inventoryService, { db, topicPrefix });
    const { AllocationModule } = await import('../apps/allocation/src/allocation.module');
    const { allocationService } = await import('../apps/allocation/src/allocation.options');
    allocation = await startTestService(AllocationModule, allocationService, { db, topicPrefix });
  });

  afterAll(async () => {
    await allocation?.stop();
    await inventory?.stop();
  });

  it('caps below nominal draw, shows the headroom, refuses the placement that would exceed it, and re-drives on a raised cap', async () => {
    // One H200 rack: 4 nodes of 10,200 W nominal (40,800 W), 3,060 W idle each (12,240 W).
    await inv()
      .post('/fleet/import')
      .send({
        site: { id: 'pc1', name: 'power site', powerCapW: 10_000_000 },
        halls: [
          {
            id: 'pc1-h01',
            name: 'H200 hall',
            powerCapW: 1_000_000,
            racks: [{ id: RACK, gpuClass: 'H200', powerBudgetW: 45_000, nodeCount: 4, nodePowerW: 10_200 }],
          },
        ],
      })
      .expect(200);

    // Before issue #15 a budget below the nominal draw was refused (422 budget-below-draw): no cap could bind.
    await inv()
      .post('/power-budgets')
      .send({ scope: 'rack', scopeId: RACK, budgetW: 20_000, reason: 'grid limit' })
      .expect(200);
    const belowIdle = await inv()
      .post('/power-budgets')
      .send({ scope: 'rack', scopeId: RACK, budgetW: 5_000, reason: 'too far' });
    expect(belowIdle.status).toBe(422);
    expect(belowIdle.body.error).toBe('budget-below-draw');
    expect(belowIdle.body.message).toMatch(/12240 W idle/);

    await waitUntil(async () => (await rackPower())?.budgetW === 20_000, 60_000, 'the cap in allocation');
    expect(await rackPower()).toEqual({
      scope: 'rack',
      id: RACK,
      budgetW: 20_000,
      drawW: 12_240,
      idleDrawW: 12_240,
      headroomW: 7_760,
    });

    const term = { start: '2026-01-01T00:00:00.000Z', end: '2030-01-01T00:00:00.000Z' };
    await alloc()
      .post('/leases')
      .send({
        leaseId: 'lease-pc',
        tenantId: 'pc',
        term,
        committedGpus: { H200: 32 },
        exclusivity: 'shared',
        ratePlanId: 'rp',
        author: 'sales',
      })
      .expect(201);
    await alloc().post('/leases/lease-pc/activate').send({ author: 'ops' }).expect(201);
    await alloc()
      .post('/quotas/pc/H200/training')
      .send({ change: { kind: 'set', nominal: 32, borrowLimit: 0 }, reason: 'initial', author: 'cap' })
      .expect(201);
    const submit = (workloadId: string) =>
      alloc()
        .post('/workloads')
        .send({ workloadId, tenantId: 'pc', workloadClass: 'training', gpuCount: 8, gang: true, priority: 1 })
        .expect(201);

    expect((await submit('pc-1')).body).toMatchObject({ outcome: 'placed', gpuClass: 'H200' });
    expect(await rackPower()).toMatchObject({ drawW: 19_380, headroomW: 620 });
    const refused = (await submit('pc-2')).body;
    expect(refused).toMatchObject({ outcome: 'queued', reason: 'power-headroom' });
    expect(refused.detail).toBe(
      `power budgets leave no headroom for 8 more H200 GPUs (rack ${RACK}: budget 20000 W, draw 19380 W, headroom 620 W, 7140 W more needed)`,
    );
    expect((await alloc().get('/workloads/pc-2').expect(200)).body).toMatchObject({
      status: 'queued',
      reason: 'power-headroom',
      queuePosition: 1,
    });

    await inv()
      .post('/power-budgets')
      .send({ scope: 'rack', scopeId: RACK, budgetW: 30_000, reason: 'feed restored' })
      .expect(200);
    await waitUntil(
      async () => (await alloc().get('/workloads/pc-2').expect(200)).body.status === 'placed',
      60_000,
      'pc-2 placed once the cap was raised',
    );
    expect(await rackPower()).toMatchObject({ budgetW: 30_000, drawW: 26_520, headroomW: 3_480 });
  });
});
