import { allocation } from '@fleetledger/contracts';
import { gpuId, rackId } from '../../test/fleet-builder';
import { outcome, reasonOf, T0, World } from '../../test/allocation-world';

const GB200 = { gpuClass: 'GB200' as const };
const H100 = { gpuClass: 'H100' as const };

/** Two tenants with shared leases of half the fleet each and generous quotas on every class. */
function world(
  halls: ConstructorParameters<typeof World>[0],
  options?: { sitePowerCapW?: number; shareOfFleet?: number },
): World {
  const w = new World(halls, options);
  const share = options?.shareOfFleet ?? 0.5;
  const installed = w.state.view.installedGpus();
  const half: allocation.CommittedGpus = {};
  for (const gpuClass of allocation.GPU_CLASSES)
    if (installed[gpuClass] > 0) half[gpuClass] = Math.floor(installed[gpuClass] * share);
  for (const tenant of ['acme', 'beta']) {
    w.activeLease(`lease-${tenant}`, tenant, half);
    for (const gpuClass of allocation.GPU_CLASSES) {
      for (const wc of allocation.WORKLOAD_CLASSES)
        w.quota(tenant, gpuClass, wc, { kind: 'set', nominal: 5_000, borrowLimit: 0 });
    }
  }
  return w;
}
const placed = (w: World, workloadId: string) => w.placementOf(workloadId)!;

describe('placement engine: tricky cases', () => {
  it.each([
    {
      name: 'best-fit: two 36-GPU jobs share one NVL72 rack, so a 72-GPU gang still finds a whole domain',
      run: (w: World) => {
        w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 36, workloadClass: 'inference' });
        w.submit({ workloadId: 'b', tenantId: 'acme', gpuCount: 36, workloadClass: 'inference' });
        return w.submit({ workloadId: 'gang', tenantId: 'beta', gpuCount: 72, workloadClass: 'inference' });
      },
      fleet: [{ racks: [GB200, GB200] }],
      expected: ['Placed'],
    },
    {
      name: 'fragmentation: 68 free GPUs split 36/32 over two NVL72 racks cannot take a 66-GPU gang',
      run: (w: World) => {
        w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 36, workloadClass: 'inference' });
        w.submit({ workloadId: 'b', tenantId: 'acme', gpuCount: 40, workloadClass: 'inference' });
        return w.submit({ workloadId: 'gang', tenantId: 'beta', gpuCount: 66, workloadClass: 'inference' });
      },
      fleet: [{ racks: [GB200, GB200] }],
      expected: ['Queued'],
      reason: 'topology',
    },
    {
      name: 'fragmentation: the same 68 GPUs do take a 66-GPU non-gang workload',
      run: (w: World) => {
        w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 36, workloadClass: 'inference' });
        w.submit({ workloadId: 'b', tenantId: 'acme', gpuCount: 40, workloadClass: 'inference' });
        return w.submit({
          workloadId: 'loose',
          tenantId: 'beta',
          gpuCount: 66,
          workloadClass: 'inference',
          gang: false,
        });
      },
      fleet: [{ racks: [GB200, GB200] }],
      expected: ['Placed'],
    },
    {
      name: 'gang that cannot fit: 144 wanted, 108 free',
      run: (w: World) => {
        w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 36, workloadClass: 'inference' });
        return w.submit({ workloadId: 'big', tenantId: 'beta', gpuCount: 144, workloadClass: 'inference' });
      },
      fleet: [{ racks: [GB200, GB200] }],
      expected: ['Queued'],
      reason: 'capacity',
    },
    {
      name: 'a GPU count no NVLink domain can hold, asked for one domain, is rejected outright',
      run: (w: World) =>
        w.submit({ workloadId: 'x', tenantId: 'acme', gpuCount: 16, topology: 'same-nvlink-domain' }),
      fleet: [{ racks: [H100, H100] }],
      expected: ['Rejected'],
      reason: 'topology',
    },
    {
      name: 'no lease in force: rejected with no-lease',
      run: (w: World) => w.submit({ workloadId: 'x', tenantId: 'nobody', gpuCount: 8 }),
      fleet: [{ racks: [H100] }],
      expected: ['Rejected'],
      reason: 'no-lease',
    },
    {
      name: 'power: a rack budget lowered below one more node refuses the placement',
      run: (w: World) => {
        w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 8 });
        w.inventory({
          type: 'inventory.PowerBudgetChanged' as const,
          payload: {
            scope: 'rack' as const,
            scopeId: rackId(1, 1),
            siteId: 's1',
            hallId: 's1-h01',
            fromW: 40_800,
            toW: 12_000,
            reason: 'grid limit',
          },
        });
        return w.submit({ workloadId: 'b', tenantId: 'acme', gpuCount: 8 });
      },
      fleet: [{ racks: [H100] }],
      expected: ['Queued'],
      reason: 'power-headroom',
    },
  ])('$name', ({ run, fleet, expected, reason }) => {
    const events = run(world(fleet));
    expect(outcome(events)).toEqual(expected);
    if (reason) expect(reasonOf(events)).toBe(reason);
  });
});

describe('placement engine: topology', () => {
  it('a GB200 gang that fits one NVLink domain stays in one, and best-fit picks the fuller rack', () => {
    const w = world([{ racks: [GB200, GB200] }]);
    w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 60, workloadClass: 'inference' });
    w.submit({ workloadId: 'b', tenantId: 'acme', gpuCount: 8, workloadClass: 'inference' });
    expect(placed(w, 'a').rackIds).toEqual([rackId(1, 1)]);
    expect(placed(w, 'b').rackIds).toEqual([rackId(1, 1)]);
  });

  it('a 144-GPU GB200 gang takes two whole NVL72 domains', () => {
    const w = world([{ racks: [GB200, GB200, GB200] }]);
    w.submit({ workloadId: 'small', tenantId: 'acme', gpuCount: 4, workloadClass: 'inference' });
    w.submit({ workloadId: 'big', tenantId: 'acme', gpuCount: 144, workloadClass: 'inference' });
    expect(placed(w, 'big').rackIds.sort()).toEqual([rackId(1, 2), rackId(1, 3)]);
  });

  it('an HGX gang of 32 takes four whole nodes of one rack', () => {
    const w = world([{ racks: [H100, H100] }]);
    w.submit({ workloadId: 'frag', tenantId: 'acme', gpuCount: 3 });
    w.submit({ workloadId: 'job', tenantId: 'acme', gpuCount: 32 });
    const p = placed(w, 'job');
    expect(p.rackIds).toEqual([rackId(1, 2)]);
    expect(p.nodeIds).toHaveLength(4);
  });

  it('an HGX gang of 8 takes one whole node even when a fragmented node has room elsewhere', () => {
    const w = world([{ racks: [H100] }]);
    w.submit({ workloadId: 'frag', tenantId: 'acme', gpuCount: 3 });
    w.submit({ workloadId: 'job', tenantId: 'acme', gpuCount: 8 });
    expect(placed(w, 'job').nodeIds).toHaveLength(1);
  });

  it('unhealthy GPUs are never chosen', () => {
    const w = world([{ racks: [{ gpuClass: 'H100', nodes: 1 }] }]);
    w.inventory({
      type: 'inventory.GpuHealthChanged',
      payload: {
        gpuId: gpuId(1, 1, 1, 0),
        nodeId: 'n',
        rackId: rackId(1, 1),
        hallId: 's1-h01',
        gpuClass: 'H100',
        from: 'healthy',
        to: 'failed',
        health: 'failed',
        reason: 'xid 79',
      },
    });
    const events = w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 8 });
    expect(reasonOf(events)).toBe('capacity');
    w.submit({ workloadId: 'b', tenantId: 'acme', gpuCount: 7 });
    expect(placed(w, 'b').gpuIds).not.toContain(gpuId(1, 1, 1, 0));
  });
});

describe('placement engine: leases, quotas, routing, preemption', () => {
  it('an exclusive lease blocks another tenant from its racks and places its owner there', () => {
    const w = world([{ racks: [H100, H100] }], { shareOfFleet: 0.25 });
    w.activeLease('lease-excl', 'excl', { H100: 32 }, { hallIds: [], rackIds: [rackId(1, 1)] });
    w.quota('excl', 'H100', 'training', { kind: 'set', nominal: 32, borrowLimit: 0 });
    w.submit({ workloadId: 'fill', tenantId: 'acme', gpuCount: 32 });
    expect(placed(w, 'fill').rackIds).toEqual([rackId(1, 2)]);
    expect(reasonOf(w.submit({ workloadId: 'more', tenantId: 'acme', gpuCount: 8 }))).toBe('capacity');
    w.submit({ workloadId: 'own', tenantId: 'excl', gpuCount: 32 });
    expect(placed(w, 'own').rackIds).toEqual([rackId(1, 1)]);
  });

  it('quota doubling mid-stream lets the queued workload in', () => {
    const w = world([{ racks: [H100, H100] }]);
    w.quota('acme', 'H100', 'training', { kind: 'set', nominal: 16, borrowLimit: 0 });
    w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 16 });
    expect(reasonOf(w.submit({ workloadId: 'b', tenantId: 'acme', gpuCount: 16 }))).toBe('quota');
    w.quota('acme', 'H100', 'training', { kind: 'multiply', factor: 2 });
    expect(outcome(w.drainQueue())).toEqual(['Placed']);
    expect(w.state.usageOf('acme', 'H100', 'training')).toBe(32);
  });

  it('a request larger than nominal + borrowing is rejected, not queued', () => {
    const w = world([{ racks: [H100] }]);
    w.quota('acme', 'H100', 'training', { kind: 'set', nominal: 8, borrowLimit: 8 });
    const events = w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 24 });
    expect(outcome(events)).toEqual(['Rejected']);
    expect(reasonOf(events)).toBe('quota');
  });

  it('inference routes to GB200 first and falls back to H200 when GB200 quota is zero', () => {
    const w = world([{ racks: [GB200, { gpuClass: 'H200' }] }]);
    w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 8, workloadClass: 'inference' });
    expect(placed(w, 'a').gpuClass).toBe('GB200');
    w.quota('beta', 'GB200', 'inference', { kind: 'set', nominal: 0, borrowLimit: 0 });
    w.submit({ workloadId: 'b', tenantId: 'beta', gpuCount: 8, workloadClass: 'inference' });
    expect(placed(w, 'b').gpuClass).toBe('H200');
  });

  it('higher priority preempts lower-priority work of the same tenant, and the victim is queued', () => {
    const w = world([{ racks: [{ gpuClass: 'H100', nodes: 1 }] }]);
    w.submit({ workloadId: 'low', tenantId: 'acme', gpuCount: 8, priority: 1 });
    const events = w.submit({ workloadId: 'high', tenantId: 'acme', gpuCount: 8, priority: 50 });
    expect(outcome(events)).toEqual(['Preempted', 'Queued', 'Placed']);
    expect(w.state.queue.has('low')).toBe(true);
    expect(outcome(w.release('high'))).toEqual(['Released', 'Placed']);
  });

  it("another tenant's nominal work is never preempted, whatever the priority", () => {
    const w = world([{ racks: [{ gpuClass: 'H100', nodes: 1 }] }]);
    w.submit({ workloadId: 'low', tenantId: 'beta', gpuCount: 8, priority: 1 });
    expect(outcome(w.submit({ workloadId: 'high', tenantId: 'acme', gpuCount: 8, priority: 99 }))).toEqual([
      'Queued',
    ]);
  });

  it('borrowed capacity of another tenant is reclaimed by a request within its nominal quota', () => {
    const w = world([{ racks: [{ gpuClass: 'H100', nodes: 2 }] }]);
    w.quota('beta', 'H100', 'training', { kind: 'set', nominal: 0, borrowLimit: 8 });
    w.submit({ workloadId: 'own', tenantId: 'acme', gpuCount: 8 });
    w.submit({ workloadId: 'borrow', tenantId: 'beta', gpuCount: 8 });
    expect(placed(w, 'borrow').borrowed).toBe(true);
    const events = w.submit({ workloadId: 'claim', tenantId: 'acme', gpuCount: 8 });
    expect(outcome(events)).toEqual(['Preempted', 'Queued', 'Placed']);
    expect((events[1].payload as allocation.WorkloadPreemptedPayload).cause).toBe('borrowed-reclaimed');
    expect(w.placementOf('own')).toBeDefined();
    expect(w.placementOf('borrow')).toBeUndefined();
  });

  it('a duplicate workload id is refused', () => {
    const w = world([{ racks: [H100] }]);
    w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 1 });
    expect(() => w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 1 })).toThrow(/submitted before/);
  });
});

describe('placement engine: failures and drains', () => {
  it('a failed GPU evicts its placement, which is placed again on healthy GPUs', () => {
    const w = world([{ racks: [H100] }]);
    w.submit({ workloadId: 'job', tenantId: 'acme', gpuCount: 8 });
    const before = placed(w, 'job');
    const failed = before.gpuIds[3];
    const events = w.inventory({
      type: 'inventory.GpuHealthChanged',
      payload: {
        gpuId: failed,
        nodeId: before.nodeIds[0],
        rackId: before.rackIds[0],
        hallId: 's1-h01',
        gpuClass: 'H100',
        from: 'healthy',
        to: 'failed',
        health: 'failed',
        reason: 'xid 79',
      },
    });
    expect(outcome(events)).toEqual(['Evicted', 'Placed']);
    const after = placed(w, 'job');
    expect(after.placementId).toBe('job#2');
    expect(after.gpuIds).not.toContain(failed);
    expect(w.state.view.utilization('H100')).toEqual({ allocated: 8, healthy: 31 });
  });

  it('a drained rack evicts its work; with nowhere else to go it is queued', () => {
    const w = world([{ racks: [H100] }]);
    w.submit({ workloadId: 'job', tenantId: 'acme', gpuCount: 16 });
    const p = placed(w, 'job');
    const gpuIds = [
      ...w.state.view.racks.get(rackId(1, 1))!.nodes.flatMap((n) => n.gpus.map((g) => g.gpuId)),
    ];
    const events = w.inventory({
      type: 'inventory.RackDrainStarted',
      payload: {
        rackId: rackId(1, 1),
        hallId: 's1-h01',
        gpuClass: 'H100',
        nodeIds: [],
        gpuIds,
        reason: 'maintenance',
      },
    });
    expect(outcome(events)).toEqual(['Evicted', 'Queued']);
    expect((events[0].payload as allocation.WorkloadEvictedPayload).gpuIds).toEqual(p.gpuIds);
    expect(w.state.view.utilization('H100').allocated).toBe(0);
  });

  it('the same events always give the same placement (deterministic)', () => {
    const run = () => {
      const w = world([{ racks: [H100, H100, GB200] }]);
      for (let i = 0; i < 20; i++)
        w.submit({
          workloadId: `w${i}`,
          tenantId: i % 2 ? 'acme' : 'beta',
          gpuCount: 1 + ((i * 7) % 12),
          gang: i % 3 !== 0,
        });
      w.release('w4');
      w.submit({ workloadId: 'last', tenantId: 'acme', gpuCount: 9 });
      return JSON.stringify(w.log);
    };
    expect(run()).toEqual(run());
  });
});

it('time of a decision comes from the command', () => {
  const w = world([{ racks: [H100] }]);
  w.submit({ workloadId: 'a', tenantId: 'acme', gpuCount: 1 }, '2026-05-05T05:05:05.000Z');
  expect(placed(w, 'a').placedAt).toBe('2026-05-05T05:05:05.000Z');
  expect(T0).not.toBe(placed(w, 'a').placedAt);
});

describe('preemption within the quota scope (tenant x GPU class x workload class)', () => {
  /** One H100 rack (32 GPUs) shared by acme and beta; acme's training quota is 16 GPUs. */
  const quotaWorld = (nodes = 4) => {
    const w = world([{ racks: [{ gpuClass: 'H100', nodes }] }]);
    w.quota('acme', 'H100', 'training', { kind: 'set', nominal: 16, borrowLimit: 0 });
    return w;
  };
  const preempted = (events: ReturnType<World['submit']>) =>
    events
      .filter((e) => e.type === allocation.WorkloadPreempted.type)
      .map((e) => (e.payload as allocation.WorkloadPreemptedPayload).workloadId);
  const requeued = (events: ReturnType<World['submit']>) =>
    events
      .filter((e) => e.type === allocation.WorkloadQueued.type)
      .map((e) => (e.payload as allocation.WorkloadQueuedPayload).reason);

  it.each<{
    name: string;
    running: { workloadId: string; gpuCount: number; priority: number; workloadClass?: 'agentic' }[];
    ask: { gpuCount: number; priority: number };
    nodes?: number;
    expected: string[];
    victims?: string[];
    requeuedFor?: string[];
  }>([
    {
      name: 'a higher-priority request refused only by quota preempts the lowest-priority work in its scope',
      running: [
        { workloadId: 'p1', gpuCount: 8, priority: 1 },
        { workloadId: 'p2', gpuCount: 8, priority: 2 },
      ],
      ask: { gpuCount: 8, priority: 50 },
      expected: ['Preempted', 'Queued', 'Placed'],
      victims: ['p1'],
      requeuedFor: ['quota'],
    },
    {
      name: 'it preempts as many as the quota needs, lowest priority first',
      running: [
        { workloadId: 'p2', gpuCount: 8, priority: 2 },
        { workloadId: 'p1', gpuCount: 8, priority: 1 },
      ],
      ask: { gpuCount: 16, priority: 50 },
      expected: ['Preempted', 'Queued', 'Preempted', 'Queued', 'Placed'],
      victims: ['p1', 'p2'],
    },
    {
      name: 'work of equal priority is not preempted: the request is queued for quota',
      running: [{ workloadId: 'same', gpuCount: 16, priority: 50 }],
      ask: { gpuCount: 8, priority: 50 },
      expected: ['Queued'],
    },
    {
      name: "the tenant's work of another workload class is outside the scope and is not preempted for quota",
      running: [
        { workloadId: 'top', gpuCount: 16, priority: 90 },
        { workloadId: 'agent', gpuCount: 8, priority: 1, workloadClass: 'agentic' },
      ],
      ask: { gpuCount: 8, priority: 50 },
      expected: ['Queued'],
    },
    {
      name: 'freed quota but still short of GPUs: it also preempts for capacity (own lower-priority work)',
      nodes: 2,
      running: [
        { workloadId: 'a', gpuCount: 8, priority: 1 },
        { workloadId: 'b', gpuCount: 8, priority: 1, workloadClass: 'agentic' },
      ],
      ask: { gpuCount: 16, priority: 50 },
      expected: ['Preempted', 'Queued', 'Preempted', 'Queued', 'Placed'],
      victims: ['a', 'b'],
      requeuedFor: ['quota', 'capacity'],
    },
  ])('$name', ({ running, ask, nodes, expected, victims, requeuedFor }) => {
    const w = quotaWorld(nodes);
    w.quota('acme', 'H100', 'agentic', { kind: 'set', nominal: 16, borrowLimit: 0 });
    w.state.routes = { ...w.state.routes, agentic: ['H100'] };
    for (const r of running)
      expect(outcome(w.submit({ tenantId: 'acme', workloadClass: 'training', ...r, gang: false }))).toEqual([
        'Placed',
      ]);
    const events = w.submit({ workloadId: 'urgent', tenantId: 'acme', ...ask });
    expect(outcome(events)).toEqual(expected);
    if (victims) expect(preempted(events)).toEqual(victims);
    if (requeuedFor) expect(requeued(events)).toEqual(requeuedFor);
    if (expected.at(-1) === 'Queued') expect(reasonOf(events)).toBe('quota');
    // Never beyond the quota: what runs in the scope stays within nominal.
    expect(w.state.usageOf('acme', 'H100', 'training')).toBeLessThanOrEqual(16);
  });

  it("another tenant's work is never preempted for quota", () => {
    const w = quotaWorld();
    w.submit({ workloadId: 'mine', tenantId: 'acme', gpuCount: 16, priority: 60 });
    w.submit({ workloadId: 'theirs', tenantId: 'beta', gpuCount: 8, priority: 1 });
    const events = w.submit({ workloadId: 'urgent', tenantId: 'acme', gpuCount: 8, priority: 50 });
    expect(outcome(events)).toEqual(['Queued']);
    expect(w.placementOf('theirs')).toBeDefined();
  });
});

describe('withdrawing a queued workload', () => {
  const queuedWorld = () => {
    const w = world([{ racks: [{ gpuClass: 'H100', nodes: 1 }] }]);
    w.submit({ workloadId: 'running', tenantId: 'acme', gpuCount: 8 });
    expect(reasonOf(w.submit({ workloadId: 'waiting', tenantId: 'acme', gpuCount: 8 }))).toBe('capacity');
    return w;
  };

  it('takes it off the queue with an event, so a later release does not place it', () => {
    const w = queuedWorld();
    const events = w.withdraw('waiting', '2026-03-01T01:00:00.000Z');
    expect(events).toEqual([
      expect.objectContaining({
        type: allocation.WorkloadWithdrawn.type,
        payload: {
          workloadId: 'waiting',
          tenantId: 'acme',
          workloadClass: 'training',
          withdrawnAt: '2026-03-01T01:00:00.000Z',
          reason: 'no longer needed',
        },
      }),
    ]);
    expect(w.state.queue.has('waiting')).toBe(false);
    expect(w.state.workloads.get('waiting')?.status).toBe('withdrawn');
    expect(outcome(w.release('running', '2026-03-01T01:00:00.000Z'))).toEqual(['Released']);
  });

  it.each([
    ['a placed workload is not withdrawn: it is released', 'running', 'not-queued', /release it instead/],
    ['an unknown workload', 'ghost', 'unknown-workload', /no workload ghost/],
  ])('%s', (_name, workloadId, reason, detail) => {
    const result = queuedWorld().withdraw(workloadId);
    expect(result).toMatchObject({ kind: 'rejected', reason, detail: expect.stringMatching(detail) });
  });

  it('withdrawing twice is refused, and releasing a queued workload says to withdraw it', () => {
    const w = queuedWorld();
    expect(() => w.release('waiting')).toThrow(/queued.*withdraw it instead/);
    w.withdraw('waiting');
    expect(w.withdraw('waiting')).toMatchObject({
      reason: 'not-queued',
      detail: expect.stringMatching(/withdrawn/),
    });
  });
});
