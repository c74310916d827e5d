import { allocation, NewEvent } from '@fleetledger/contracts';
import { rackId } from '../../test/fleet-builder';
import { outcome, reasonOf, T0, TERM, World } from '../../test/allocation-world';
import { runTerminate } from './lease-end';
import { fleetFacts } from './state';

const H100 = { gpuClass: 'H100' as const };
/** The exclusive lease's term ends here (the shared leases run through TERM, the whole of 2026). */
const END = '2026-06-01T00:00:00.000Z';
const JUST_BEFORE = '2026-05-31T23:59:59.999Z';
const AFTER = '2026-06-01T00:01:00.000Z';
const RACK1 = rackId(1, 1);

/**
 * Two H100 racks (64 GPUs). Tenant `excl` holds rack 1 exclusively until END; `acme` has a shared
 * lease for the year and runs 32 GPUs on rack 2 (the shared capacity is full).
 */
function world(options: { exclShared?: boolean } = {}): World {
  const w = new World([{ racks: [H100, H100] }]);
  w.activeLease(
    'lease-excl',
    'excl',
    { H100: 32 },
    { hallIds: [], rackIds: [RACK1] },
    {
      start: TERM.start,
      end: END,
    },
  );
  w.activeLease('lease-acme', 'acme', { H100: 24 });
  if (options.exclShared) w.activeLease('lease-excl-shared', 'excl', { H100: 8 });
  for (const tenant of ['excl', 'acme'])
    w.quota(tenant, 'H100', 'training', { kind: 'set', nominal: 64, borrowLimit: 0 });
  w.submit({ workloadId: 'fill', tenantId: 'acme', gpuCount: 32 });
  return w;
}
const payloadOf = <T>(events: NewEvent[], type: string) => events.find((e) => e.type === type)?.payload as T;

describe('a lease ends at the end of its term [start, end), with or without the expiry sweep', () => {
  it.each<{
    name: string;
    run: (w: World) => NewEvent[];
    expected: string[];
    reason?: string;
    rack?: string;
  }>([
    {
      name: 'just before term end, another tenant is kept off the fenced racks',
      run: (w) => w.submit({ workloadId: 'x', tenantId: 'acme', gpuCount: 8 }, JUST_BEFORE),
      expected: ['Queued'],
      reason: 'capacity',
    },
    {
      name: 'from term end on, the fence no longer keeps other tenants out (no sweep yet)',
      run: (w) => w.submit({ workloadId: 'x', tenantId: 'acme', gpuCount: 8 }, END),
      expected: ['Placed'],
      rack: RACK1,
    },
    {
      name: 'just before term end, the lease still places its owner',
      run: (w) => w.submit({ workloadId: 'x', tenantId: 'excl', gpuCount: 8 }, JUST_BEFORE),
      expected: ['Placed'],
      rack: RACK1,
    },
    {
      name: 'from term end on, its owner is rejected with lease-expired (no sweep yet)',
      run: (w) => w.submit({ workloadId: 'x', tenantId: 'excl', gpuCount: 8 }, END),
      expected: ['Rejected'],
      reason: 'lease-expired',
    },
    {
      name: 'after the sweep, its owner is still rejected with lease-expired',
      run: (w) => {
        w.expireDue(AFTER);
        return w.submit({ workloadId: 'x', tenantId: 'excl', gpuCount: 8 }, AFTER);
      },
      expected: ['Rejected'],
      reason: 'lease-expired',
    },
    {
      name: 'naming the expired lease is rejected with lease-expired too',
      run: (w) => w.submit({ workloadId: 'x', tenantId: 'excl', leaseId: 'lease-excl', gpuCount: 8 }, AFTER),
      expected: ['Rejected'],
      reason: 'lease-expired',
    },
    {
      name: 'an owner with another lease in force is placed under it on shared capacity',
      run: (w) => w.submit({ workloadId: 'x', tenantId: 'excl', gpuCount: 8 }, AFTER),
      expected: ['Placed'],
      rack: RACK1,
    },
    {
      name: 'a lease amended to end later places its owner again',
      run: (w) => {
        w.apply(
          w.lease({
            kind: 'amend',
            leaseId: 'lease-excl',
            term: TERM,
            committedGpus: { H100: 32 },
            reason: 'renewed',
            author: 'sales',
            at: JUST_BEFORE,
          }),
        );
        return w.submit({ workloadId: 'x', tenantId: 'excl', gpuCount: 8 }, AFTER);
      },
      expected: ['Placed'],
      rack: RACK1,
    },
    {
      name: 'a tenant that never had a lease still gets no-lease',
      run: (w) => w.submit({ workloadId: 'x', tenantId: 'nobody', gpuCount: 8 }, AFTER),
      expected: ['Rejected'],
      reason: 'no-lease',
    },
  ])('$name', ({ name, run, expected, reason, rack }) => {
    const w = world({ exclShared: name.includes('another lease in force') });
    const events = run(w);
    expect(outcome(events)).toEqual(expected);
    if (reason) expect(reasonOf(events)).toBe(reason);
    if (rack) expect(w.placementOf('x')?.rackIds).toEqual([rack]);
  });
});

describe('the expiry sweep', () => {
  it('expires the lease, evicts its running work at the sweep time, lifts the fence and runs the queue', () => {
    const w = world();
    w.submit({ workloadId: 'job', tenantId: 'excl', gpuCount: 16 });
    expect(reasonOf(w.submit({ workloadId: 'waiting', tenantId: 'acme', gpuCount: 16 }))).toBe('capacity');

    const events = w.expireDue(AFTER);
    expect(events.leaseBook).toEqual([
      expect.objectContaining({
        type: allocation.LeaseExpired.type,
        payload: { leaseId: 'lease-excl', tenantId: 'excl', termEnd: END, expiredAt: AFTER, author: 'cron' },
      }),
    ]);
    expect(outcome(events.ledger)).toEqual(['Evicted', 'Rejected', 'Placed']);
    expect(
      payloadOf<allocation.WorkloadEvictedPayload>(events.ledger, allocation.WorkloadEvicted.type),
    ).toMatchObject({
      workloadId: 'job',
      placementId: 'job#1',
      leaseId: 'lease-excl',
      cause: 'lease-ended',
      evictedAt: AFTER,
    });
    expect(
      payloadOf<allocation.WorkloadRejectedPayload>(events.ledger, allocation.WorkloadRejected.type),
    ).toMatchObject({
      workloadId: 'job',
      reason: 'lease-expired',
    });
    // The freed, unfenced rack takes the queued work of the other tenant.
    expect(w.placementOf('waiting')?.rackIds).toEqual([RACK1]);
    expect(w.state.view.racks.get(RACK1)!.fence).toBeNull();
    expect(w.state.leases.get('lease-excl')!.status).toBe('expired');
    expect(w.state.view.utilization('H100').allocated).toBe(48);
  });

  it('running it again, or before any term ended, changes nothing', () => {
    const w = world();
    expect(w.expireDue(JUST_BEFORE)).toEqual({ leaseBook: [], ledger: [] });
    w.expireDue(AFTER);
    expect(w.expireDue(AFTER)).toEqual({ leaseBook: [], ledger: [] });
  });

  it("evicted work is placed again under the tenant's other lease in force", () => {
    const w = world({ exclShared: true });
    w.submit({ workloadId: 'job', tenantId: 'excl', gpuCount: 8 });
    expect(w.placementOf('job')?.leaseId).toBe('lease-excl');
    const { ledger } = w.expireDue(AFTER);
    expect(outcome(ledger)).toEqual(['Evicted', 'Placed']);
    expect(w.placementOf('job')).toMatchObject({ placementId: 'job#2', leaseId: 'lease-excl-shared' });
  });

  it('rejects queued work of the expired lease instead of leaving it queued forever', () => {
    const w = world();
    w.submit({ workloadId: 'big', tenantId: 'excl', gpuCount: 32 });
    expect(reasonOf(w.submit({ workloadId: 'more', tenantId: 'excl', gpuCount: 8 }))).toBe('capacity');
    const { ledger } = w.expireDue(AFTER);
    expect(
      ledger
        .filter((e) => e.type === allocation.WorkloadRejected.type)
        .map((e) => (e.payload as allocation.WorkloadRejectedPayload).workloadId),
    ).toEqual(['big', 'more']);
    expect(w.state.queue.size).toBe(0);
  });

  it('the next exclusive lease on the same racks is activated once the first has ended, and its expiry leaves the new fence alone', () => {
    const w = world();
    w.signedLease(
      'lease-next',
      'next',
      { H100: 32 },
      { hallIds: [], rackIds: [RACK1] },
      {
        start: END,
        end: TERM.end,
      },
    );
    // Not while lease-excl still holds the rack; from its end on, yes (before the sweep).
    expect(
      w.lease({ kind: 'activate', leaseId: 'lease-next', author: 'ops', at: JUST_BEFORE }),
    ).toMatchObject({
      reason: 'exclusive-overlap',
    });
    w.apply(w.lease({ kind: 'activate', leaseId: 'lease-next', author: 'ops', at: END }));
    expect(w.state.view.racks.get(RACK1)!.fence).toBe('lease-next');
    const { leaseBook } = w.expireDue(AFTER);
    expect(leaseBook.map((e) => (e.payload as allocation.LeaseExpiredPayload).leaseId)).toEqual([
      'lease-excl',
    ]);
    expect(w.state.view.racks.get(RACK1)!.fence).toBe('lease-next');
  });

  it('a signed lease whose term passed expires too, and lifts no fence it never held', () => {
    const w = world();
    w.signedLease(
      'lease-later',
      'later',
      { H100: 32 },
      { hallIds: [], rackIds: [RACK1] },
      {
        start: END,
        end: '2026-07-01T00:00:00.000Z',
      },
    );
    // Terminating or expiring a lease that was only signed must not lift lease-excl's fence.
    w.terminate('lease-later', T0);
    expect(w.state.view.racks.get(RACK1)!.fence).toBe('lease-excl');
    expect(reasonOf(w.submit({ workloadId: 'x', tenantId: 'acme', gpuCount: 8 }))).toBe('capacity');
  });

  it('a lease signed but never activated: no-lease during its term, lease-expired after it, sweep or not', () => {
    const w = world();
    w.signedLease('lease-sig', 'sig', { H100: 8 }, undefined, { start: TERM.start, end: END });
    w.quota('sig', 'H100', 'training', { kind: 'set', nominal: 8, borrowLimit: 0 });
    const ask = (workloadId: string, at: string) =>
      reasonOf(w.submit({ workloadId, tenantId: 'sig', gpuCount: 8 }, at));
    expect(ask('during', JUST_BEFORE)).toBe('no-lease');
    expect(ask('after', END)).toBe('lease-expired');
    expect(w.expireDue(AFTER).leaseBook.map((e) => (e.payload as { leaseId: string }).leaseId)).toEqual([
      'lease-excl',
      'lease-sig',
    ]);
    expect(ask('swept', AFTER)).toBe('lease-expired');
  });

  it('an expired lease cannot be amended, terminated or activated', () => {
    const w = world();
    w.expireDue(AFTER);
    expect(
      w.lease({ kind: 'terminate', leaseId: 'lease-excl', reason: 'x', author: 'ops', at: AFTER }),
    ).toMatchObject({ reason: 'wrong-status' });
    expect(w.lease({ kind: 'activate', leaseId: 'lease-excl', author: 'ops', at: AFTER })).toMatchObject({
      reason: 'wrong-status',
    });
    expect(
      w.lease({
        kind: 'amend',
        leaseId: 'lease-excl',
        term: TERM,
        committedGpus: { H100: 32 },
        reason: 'too late',
        author: 'sales',
        at: AFTER,
      }),
    ).toMatchObject({ reason: 'wrong-status' });
  });
});

describe('terminating a lease', () => {
  it("ends that lease's placements at the termination time and no other tenant's", () => {
    const w = world();
    w.submit({ workloadId: 'job', tenantId: 'excl', gpuCount: 8 });
    const { leaseBook, ledger } = w.terminate('lease-acme', '2026-04-01T00:00:00.000Z');
    expect(leaseBook.map((e) => e.type)).toEqual([allocation.LeaseTerminated.type]);
    expect(outcome(ledger)).toEqual(['Evicted', 'Rejected']);
    expect(
      payloadOf<allocation.WorkloadEvictedPayload>(ledger, allocation.WorkloadEvicted.type),
    ).toMatchObject({
      placementId: 'fill#1',
      cause: 'lease-ended',
      evictedAt: '2026-04-01T00:00:00.000Z',
    });
    expect(w.placementOf('job')).toBeDefined();
    expect(w.placementOf('fill')).toBeUndefined();
  });

  it("is refused with stale-command when stamped before the ledger's latest decision or the watermark, and changes nothing", () => {
    const w = world();
    w.submit({ workloadId: 'job', tenantId: 'excl', gpuCount: 8 }, '2026-04-01T00:00:00.000Z');
    const terminate = (at: string) =>
      runTerminate(
        w.state,
        { kind: 'terminate', leaseId: 'lease-acme', reason: 'x', author: 'ops', at },
        fleetFacts(w.state),
      );
    expect(terminate('2026-03-15T00:00:00.000Z')).toMatchObject({ reason: 'stale-command' });
    w.state.watermarkAt = '2026-05-01T00:00:00.000Z';
    expect(terminate('2026-04-15T00:00:00.000Z')).toMatchObject({
      reason: 'stale-command',
      detail: expect.stringContaining('watermark 2026-05-01T00:00:00.000Z'),
    });
    expect(w.state.leases.get('lease-acme')?.status).toBe('active');
    expect(w.placementOf('fill')).toBeDefined();
    expect(terminate('2026-05-01T00:00:00.000Z')).not.toHaveProperty('reason');
    expect(w.placementOf('fill')).toBeUndefined();
  });
});
