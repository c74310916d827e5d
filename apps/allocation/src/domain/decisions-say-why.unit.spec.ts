import { allocation } from '@fleetledger/contracts';
import { T0, World } from '../../test/allocation-world';
import { routingOf } from './placement';

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
