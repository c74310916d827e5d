import { allocation } from '@fleetledger/contracts';
import { T0, World } from '../../test/allocation-world';
import { AllocationState } from './state';
import { decideSubmit } from './workload';

/**
 * Issue #18: deciding never changes the state. Preemption's what-ifs release victims in an overlay,
 * not in the capacity view, so a decision leaves every GPU, count, draw and bucket order as it was;
 * the state changes only when the decided events are applied.
 */

/** Everything a later decision reads, including the order of nodes in the free-count buckets. */
function snapshot(state: AllocationState) {
  const pools = (['H100', 'H200', 'GB200'] as const).map((gpuClass) => {
    const pool = state.view.existingPool(gpuClass, null);
    return (
      pool && {
        freeGpus: pool.freeGpus,
        nodes: pool.nodesByFree.map((bucket) => [...(bucket ?? [])].map((n) => n.nodeId)),
        racks: pool.racksByFree.map((bucket) => [...(bucket ?? [])].map((r) => r.rackId)),
      }
    );
  });
  return {
    pools,
    gpus: [...state.view.gpus.values()].map((g) => [g.gpuId, g.placementId, g.health]),
    nodes: [...state.view.nodes.values()].map((n) => [n.nodeId, n.free, n.allocated]),
    draws: [...state.view.racks.values()].map((r) => [
      r.rackId,
      r.free,
      r.drawW,
      r.hall.drawW,
      r.hall.site.drawW,
    ]),
    usage: [...state.usage],
    leaseUsage: [...state.leaseUsage],
    placements: [...state.placementsById.keys()],
    queue: [...state.queue.keys()],
    ledgerAt: state.ledgerAt,
  };
}

const request = (workloadId: string, gpuCount: number, priority: number): allocation.WorkloadRequest => ({
  workloadId,
  tenantId: 'acme',
  workloadClass: 'training',
  gpuCount,
  gang: false,
  topology: 'any',
  priority,
});

describe('deciding does not change the state', () => {
  it.each([
    {
      name: 'a preemption for GPUs (two lower-priority workloads on a full node)',
      quota: 16,
      running: [request('low-1', 4, 1), request('low-2', 4, 2)],
      ask: request('urgent', 8, 50),
      victims: 2,
    },
    {
      name: 'a preemption for quota (the scope is at its nominal quota)',
      quota: 8,
      running: [request('low-1', 4, 1), request('low-2', 4, 2)],
      ask: request('urgent', 4, 50),
      victims: 1,
    },
  ])('$name: the decision names the victims, the state is unchanged until it is applied', (c) => {
    const w = new World([{ racks: [{ gpuClass: 'H100', nodes: 1 }] }]);
    w.activeLease('lease-acme', 'acme', { H100: 8 });
    w.quota('acme', 'H100', 'training', { kind: 'set', nominal: c.quota, borrowLimit: 0 });
    for (const r of c.running) w.submit(r);
    const before = snapshot(w.state);

    const decided = decideSubmit(w.state, c.ask, T0);
    if (!Array.isArray(decided)) throw new Error(decided.detail);
    const preempted = decided.filter((e) => e.type === allocation.WorkloadPreempted.type);
    expect(preempted).toHaveLength(c.victims);
    expect(decided.at(-1)?.type).toBe(allocation.WorkloadPlaced.type);
    expect(snapshot(w.state)).toEqual(before);

    // Applying the decided events is what preempts: the urgent work holds GPUs the victims held.
    w.apply(decided);
    const placed = w.placementOf('urgent');
    expect(placed?.gpuIds).toHaveLength(c.ask.gpuCount);
    expect(snapshot(w.state)).not.toEqual(before);
  });
});
