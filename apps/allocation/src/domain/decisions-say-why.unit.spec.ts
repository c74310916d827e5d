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
