import { allocation, inventory } from '@fleetledger/contracts';
import { T0, TERM, World } from '../../test/allocation-world';
import { NewEvent } from '@fleetledger/contracts';
import { commandTime } from './command-time';
import { redriveAfter, runRelease, runSubmit, runWithdraw } from './ledger';
import { routingOf } from './placement';
import { queuedInOrder } from './queue';
import { decideQuotaChange } from './quota';

/** Issue #15: the pure rules behind "decisions that say why". */

const placedEvent = (events: { type: string; payload: unknown }[]) =>
  events.find((e) => e.type === allocation.WorkloadPlaced.type)?.payload as
    allocation.WorkloadPlacedPayload | undefined;

describe('routing records why a class was used', () => {
  it.each([
    {
      name: 'the first class of the policy is the first choice',
      gpuClass: 'GB200' as const,
      skipped: {},
      reason: 'first choice',
    },
    {
      name: 'a fallback names why each earlier class could not take it',
      gpuClass: 'H100' as const,
      skipped: { GB200: 'GB200 full (0 free)', H200: 'H200: no lease in force' },
      reason: 'fallback: GB200 full (0 free); H200: no lease in force',
    },
  ])('$name', ({ gpuClass, skipped, reason }) => {
    const map = new Map(Object.entries(skipped)) as Map<allocation.GpuClass, string>;
    expect(routingOf(['GB200', 'H200', 'H100'], gpuClass, map)).toEqual({ requestedClass: 'GB200', reason });
  });

  it('inference on a full GB200 rack lands on H200 with "fallback: GB200 full"', () => {
    const w = new World([{ racks: [{ gpuClass: 'GB200' }, { gpuClass: 'H200' }] }]);
    w.activeLease('lease-a', 'a', { GB200: 72, H200: 32 });
    w.quota('a', 'GB200', 'inference', { kind: 'set', nominal: 200, borrowLimit: 0 });
    w.quota('a', 'H200', 'inference', { kind: 'set', nominal: 200, borrowLimit: 0 });
    expect(
      placedEvent(w.submit({ workloadId: 'big', tenantId: 'a', gpuCount: 72, workloadClass: 'inference' }))
        ?.routing,
    ).toEqual({ requestedClass: 'GB200', reason: 'first choice' });
    const fallback = placedEvent(
      w.submit({ workloadId: 'small', tenantId: 'a', gpuCount: 8, workloadClass: 'inference' }, T0),
    );
    expect(fallback?.gpuClass).toBe('H200');
    expect(fallback?.routing?.reason).toMatch(
      /^fallback: GB200 full \(0 free GB200 GPUs in shared capacity, 8 wanted\)$/,
    );
  });
});

describe('exclusive leases in the way are named', () => {
  /** Three H100 racks; lease-x fences two of them (exclusive), beta has a shared lease. */
  function fenced(fenceEnd: string): World {
    const w = new World([{ racks: [{ gpuClass: 'H100' }, { gpuClass: 'H100' }, { gpuClass: 'H100' }] }]);
    w.activeLease(
      'lease-x',
      'xcl',
      { H100: 32 },
      { hallIds: [], rackIds: ['s1-h01-r001', 's1-h01-r002'] },
      { start: '2026-01-01T00:00:00.000Z', end: fenceEnd },
    );
    w.activeLease('lease-b', 'beta', { H100: 32 });
    w.quota('beta', 'H100', 'training', { kind: 'set', nominal: 200, borrowLimit: 0 });
    w.submit({ workloadId: 'fill', tenantId: 'beta', gpuCount: 32 });
    return w;
  }
  const last = (events: { payload: unknown }[]) =>
    events.at(-1)?.payload as { reason: string; detail: string };

  it.each([
    {
      name: 'more than the shared racks hold, fenced for all of the lease term: rejected, naming the fence',
      fenceEnd: '2027-01-01T00:00:00.000Z',
      gpuCount: 40,
      type: allocation.WorkloadRejected.type,
      reason: 'lease-exclusive',
      detail:
        /H100: 40 wanted, 32 usable before lease lease-b ends .*fenced by exclusive lease\(s\) lease-x \(xcl, 64 GPUs, until 2027-01-01/,
    },
    {
      name: 'the fence ends before the lease: queued, waiting for that lease',
      fenceEnd: '2026-06-01T00:00:00.000Z',
      gpuCount: 40,
      type: allocation.WorkloadQueued.type,
      reason: 'lease-exclusive',
      detail: /waits for exclusive lease\(s\) lease-x \(xcl, 64 GPUs, until 2026-06-01/,
    },
    {
      name: 'the shared racks could hold it but are busy: queued for capacity, waiting for releases',
      fenceEnd: '2027-01-01T00:00:00.000Z',
      gpuCount: 8,
      type: allocation.WorkloadQueued.type,
      reason: 'capacity',
      detail: /0 free H100 GPUs in shared capacity, 8 wanted; waits for GPUs to be released/,
    },
  ])('$name', ({ fenceEnd, gpuCount, type, reason, detail }) => {
    const w = fenced(fenceEnd);
    const events = w.submit({ workloadId: 'ask', tenantId: 'beta', gpuCount });
    expect(events.at(-1)?.type).toBe(type);
    expect(last(events).reason).toBe(reason);
    expect(last(events).detail).toMatch(detail);
  });
});

it('more GPUs than the class has in service, with no fence in the way: rejected for capacity, not queued forever', () => {
  const w = new World([{ racks: [{ gpuClass: 'H100' }] }]);
  w.activeLease('lease-a', 'a', { H100: 32 });
  w.quota('a', 'H100', 'training', { kind: 'set', nominal: 200, borrowLimit: 0 });
  const events = w.submit({ workloadId: 'huge', tenantId: 'a', gpuCount: 40 });
  expect(events.at(-1)).toMatchObject({
    type: allocation.WorkloadRejected.type,
    payload: { reason: 'capacity', detail: 'H100: 40 wanted, 32 GPUs in service in shared capacity' },
  });
});

describe('time in commands: the ledger is decided in time order', () => {
  const LATER = '2026-03-01T02:00:00.000Z';
  function world(): World {
    const w = new World([{ racks: [{ gpuClass: 'H100' }] }]);
    w.activeLease('lease-a', 'a', { H100: 32 });
    w.quota('a', 'H100', 'training', { kind: 'set', nominal: 32, borrowLimit: 0 });
    w.submit({ workloadId: 'now', tenantId: 'a', gpuCount: 8 }, LATER);
    return w;
  }
  it.each([
    {
      name: 'a submission stamped before the latest ledger event',
      act: (w: World) =>
        runSubmit(
          w.state,
          {
            workloadId: 'past',
            tenantId: 'a',
            workloadClass: 'training',
            gpuCount: 8,
            gang: true,
            topology: 'any',
            priority: 1,
          },
          T0,
        ),
    },
    { name: 'a release stamped before it', act: (w: World) => runRelease(w.state, 'now', T0) },
    { name: 'a withdrawal stamped before it', act: (w: World) => runWithdraw(w.state, 'now', T0) },
  ])('$name is refused as stale-command, and nothing changes', ({ act }) => {
    const w = world();
    const free = w.state.view.utilization('H100');
    expect(act(w)).toMatchObject({
      kind: 'rejected',
      reason: 'stale-command',
      detail: expect.stringMatching(
        /stamped 2026-03-01T00:00:00.000Z, before the placement ledger's latest decision at 2026-03-01T02:00:00.000Z/,
      ),
    });
    expect(w.state.view.utilization('H100')).toEqual(free);
    expect(w.state.workloads.has('past')).toBe(false);
  });

  it('a command at the same instant as the latest event is decided', () => {
    const w = world();
    expect(w.submit({ workloadId: 'same', tenantId: 'a', gpuCount: 8 }, LATER).at(-1)?.type).toBe(
      allocation.WorkloadPlaced.type,
    );
  });

  it.each([
    {
      name: 'an unstamped command runs at the clock',
      ledgerAt: '2026-03-01T02:00:00.000Z',
      now: '2026-03-01T03:00:00.000Z',
      expected: '2026-03-01T03:00:00.000Z',
    },
    {
      name: 'a clock behind the ledger (another replica) runs at the ledger time',
      ledgerAt: '2026-03-01T02:00:00.000Z',
      now: '2026-03-01T01:59:59.000Z',
      expected: '2026-03-01T02:00:00.000Z',
    },
  ])('$name', ({ ledgerAt, now, expected }) => {
    const w = world();
    w.state.ledgerAt = ledgerAt;
    expect(commandTime(w.state, undefined, now)).toBe(expected);
  });
});

describe('every change that can change an answer re-drives the queue', () => {
  /** One H100 rack (32 GPUs), tenant a: shared lease of 32, quota 8 nominal + 8 borrowable; 8 running. */
  function world(): World {
    const w = new World([{ racks: [{ gpuClass: 'H100' }] }]);
    w.activeLease('lease-a', 'a', { H100: 32 });
    w.quota('a', 'H100', 'training', { kind: 'set', nominal: 8, borrowLimit: 8 });
    w.submit({ workloadId: 'run', tenantId: 'a', gpuCount: 8 });
    return w;
  }
  const quotaChange = (w: World, nominal: number, borrowLimit: number) =>
    decideQuotaChange(w.state.quotas.get('a') ?? new Map(), {
      tenantId: 'a',
      gpuClass: 'H100',
      workloadClass: 'training',
      change: { kind: 'set', nominal, borrowLimit },
      reason: 'test',
      author: 'test',
      at: T0,
    }) as NewEvent[];
  const types = (events: NewEvent[]) => events.map((e) => e.type.replace('allocation.Workload', ''));

  it('a quota raised: the queued request is placed in the same step', () => {
    const w = world();
    expect(w.submit({ workloadId: 'wait', tenantId: 'a', gpuCount: 16 }).at(-1)?.payload).toMatchObject({
      reason: 'quota',
    });
    expect(types(redriveAfter(w.state, quotaChange(w, 16, 16), T0))).toEqual(['Placed']);
  });

  it('a quota lowered below the request: the queued request is rejected, saying why', () => {
    const w = world();
    w.submit({ workloadId: 'wait', tenantId: 'a', gpuCount: 16 });
    const events = redriveAfter(w.state, quotaChange(w, 8, 0), T0);
    expect(types(events)).toEqual(['Rejected']);
    expect(events[0].payload).toMatchObject({
      reason: 'quota',
      detail: expect.stringMatching(/16 H100\/training GPUs exceed the quota \(8 nominal \+ 0/),
    });
  });

  it('capacity freed but not enough: the waiting request says what is free now; an unchanged one writes nothing', () => {
    const w = world();
    w.quota('a', 'H100', 'training', { kind: 'set', nominal: 100, borrowLimit: 0 });
    w.submit({ workloadId: 'most', tenantId: 'a', gpuCount: 20 }); // 28 in use, 4 free
    const queued = w.submit({ workloadId: 'wait', tenantId: 'a', gpuCount: 10, priority: 5 });
    expect(queued.at(-1)?.payload).toMatchObject({
      detail: expect.stringMatching(/^4 free H100 GPUs in shared capacity, 10 wanted/),
    });
    const small = w.submit({ workloadId: 'small', tenantId: 'a', gpuCount: 2, priority: 1 }); // placed: 2 free
    expect(types(small)).toContain('Placed');
    const released = w.release('run'); // 10 free: 'wait' runs
    expect(types(released)).toEqual(['Released', 'Placed']);
    w.submit({ workloadId: 'later', tenantId: 'a', gpuCount: 8, priority: 1 }); // 0 free: queued
    const freed = w.release('small'); // 2 free: still short
    expect(types(freed)).toEqual(['Released', 'Queued']);
    expect(freed[1].payload).toMatchObject({
      workloadId: 'later',
      detail: expect.stringMatching(/^2 free H100 GPUs/),
    });
    expect(types(w.drainQueue())).toEqual([]);
  });

  it('a lease amended to commit more GPUs: work waiting to borrow idle lease capacity is placed', () => {
    const w = new World([{ racks: [{ gpuClass: 'H100' }] }]);
    w.activeLease('lease-a', 'a', { H100: 8 });
    w.quota('a', 'H100', 'training', { kind: 'set', nominal: 0, borrowLimit: 16 });
    w.submit({ workloadId: 'first', tenantId: 'a', gpuCount: 8 });
    const waits = w.submit({ workloadId: 'second', tenantId: 'a', gpuCount: 8 });
    expect(waits.at(-1)?.payload).toMatchObject({
      reason: 'quota',
      detail: expect.stringMatching(/needs idle capacity of lease lease-a, 0 idle/),
    });
    const amended = w.lease({
      kind: 'amend',
      leaseId: 'lease-a',
      term: TERM,
      committedGpus: { H100: 16 },
      reason: 'more',
      author: 'sales',
      at: T0,
    }) as NewEvent[];
    expect(types(redriveAfter(w.state, amended, T0))).toEqual(['Placed']);
  });

  it('the queue is tried by priority, then submission time, then submission order', () => {
    const w = world();
    w.quota('a', 'H100', 'training', { kind: 'set', nominal: 100, borrowLimit: 0 });
    w.submit({ workloadId: 'fill', tenantId: 'a', gpuCount: 24 });
    w.submit({ workloadId: 'b-low', tenantId: 'a', gpuCount: 8, priority: 1 }, '2026-03-01T00:01:00.000Z');
    w.submit({ workloadId: 'c-high', tenantId: 'a', gpuCount: 8, priority: 9 }, '2026-03-01T00:02:00.000Z');
    w.submit({ workloadId: 'a-high', tenantId: 'a', gpuCount: 8, priority: 9 }, '2026-03-01T00:02:00.000Z');
    expect(queuedInOrder(w.state).map((r) => r.workloadId)).toEqual(['c-high', 'a-high', 'b-low']);
  });
});

describe('one power model: idle draw of every node plus the share of each busy GPU, against budgets below nominal', () => {
  /** One H100 rack of 4 nodes (10,200 W nominal each, 3,060 W idle), capped at 30,000 W (nominal 40,800 W). */
  function capped(): World {
    const w = new World([{ racks: [{ gpuClass: 'H100', powerBudgetW: 30_000 }] }]);
    w.activeLease('lease-a', 'a', { H100: 32 });
    w.quota('a', 'H100', 'training', { kind: 'set', nominal: 32, borrowLimit: 0 });
    return w;
  }
  it.each([
    { nominal: 10_200, gpus: 8, busy: 0, drawW: 3_060 },
    { nominal: 10_200, gpus: 8, busy: 4, drawW: 3_060 + 3_570 },
    { nominal: 10_200, gpus: 8, busy: 8, drawW: 10_200 },
  ])(
    'a node of $nominal W with $busy of $gpus GPUs busy draws $drawW W',
    ({ nominal, gpus, busy, drawW }) => {
      expect(inventory.nodeDrawW(nominal, gpus, busy)).toBe(drawW);
    },
  );

  it('an idle rack already draws its idle power; two busy nodes fit the cap, a third is refused with power-headroom naming the rack', () => {
    const w = capped();
    expect(w.state.view.power().find((p) => p.scope === 'rack')).toMatchObject({
      id: 's1-h01-r001',
      budgetW: 30_000,
      drawW: 12_240,
      idleDrawW: 12_240,
      headroomW: 17_760,
    });
    expect(w.submit({ workloadId: 'one', tenantId: 'a', gpuCount: 8 }).at(-1)?.type).toBe(
      allocation.WorkloadPlaced.type,
    );
    expect(w.submit({ workloadId: 'two', tenantId: 'a', gpuCount: 8 }).at(-1)?.type).toBe(
      allocation.WorkloadPlaced.type,
    );
    const third = w.submit({ workloadId: 'three', tenantId: 'a', gpuCount: 8 });
    expect(third.at(-1)?.payload).toMatchObject({
      reason: 'power-headroom',
      detail: expect.stringMatching(
        /rack s1-h01-r001: budget 30000 W, draw 26520 W, headroom 3480 W, \d+ W more needed/,
      ),
    });
    // Releasing one gives the headroom back: the queue is re-driven and the third runs.
    expect(w.release('one').map((e) => e.type)).toEqual([
      allocation.WorkloadReleased.type,
      allocation.WorkloadPlaced.type,
    ]);
  });
});
