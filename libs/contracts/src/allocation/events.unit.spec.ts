import { EventRegistry } from '../registry';
import { allAllocationEvents, LeaseSigned, QuotaChanged, WorkloadPlaced } from './events';

const registry = new EventRegistry(allAllocationEvents);

describe('allocation contracts', () => {
  it.each<[string, string, unknown, boolean]>([
    [
      'a shared lease without scope (scope defaults to empty)',
      LeaseSigned.type,
      {
        leaseId: 'l1',
        tenantId: 't1',
        term: { start: '2026-01-01T00:00:00Z', end: '2027-01-01T00:00:00Z' },
        committedGpus: { H100: 1024 },
        exclusivity: 'shared',
        ratePlanId: 'rp1',
        signedAt: '2025-12-01T00:00:00Z',
        author: 'sales',
      },
      true,
    ],
    [
      'a lease whose term ends before it starts',
      LeaseSigned.type,
      {
        leaseId: 'l1',
        tenantId: 't1',
        term: { start: '2027-01-01T00:00:00Z', end: '2026-01-01T00:00:00Z' },
        committedGpus: {},
        exclusivity: 'shared',
        scope: { hallIds: [], rackIds: [] },
        ratePlanId: 'rp1',
        signedAt: '2025-12-01T00:00:00Z',
        author: 'sales',
      },
      false,
    ],
    [
      'a lease committing an unknown GPU class',
      LeaseSigned.type,
      {
        leaseId: 'l1',
        tenantId: 't1',
        term: { start: '2026-01-01T00:00:00Z', end: '2027-01-01T00:00:00Z' },
        committedGpus: { A100: 8 },
        exclusivity: 'shared',
        ratePlanId: 'rp1',
        signedAt: '2025-12-01T00:00:00Z',
        author: 'sales',
      },
      false,
    ],
    [
      'a multiplicative quota change (x15)',
      QuotaChanged.type,
      {
        tenantId: 't1',
        gpuClass: 'GB200',
        workloadClass: 'inference',
        nominal: 1500,
        borrowLimit: 150,
        previous: { nominal: 100, borrowLimit: 10 },
        change: { kind: 'multiply', factor: 15 },
        changedAt: '2026-02-01T00:00:00Z',
        reason: 'Claude Code throughput x15',
        author: 'capacity-team',
      },
      true,
    ],
    [
      'a multiply change without a factor',
      QuotaChanged.type,
      {
        tenantId: 't1',
        gpuClass: 'GB200',
        workloadClass: 'inference',
        nominal: 1500,
        borrowLimit: 150,
        previous: { nominal: 100, borrowLimit: 10 },
        change: { kind: 'multiply' },
        changedAt: '2026-02-01T00:00:00Z',
        reason: 'x15',
        author: 'capacity-team',
      },
      false,
    ],
    [
      'a placement without GPUs',
      WorkloadPlaced.type,
      {
        workloadId: 'w1',
        placementId: 'p1',
        tenantId: 't1',
        leaseId: 'l1',
        workloadClass: 'training',
        gpuClass: 'H100',
        gpuIds: [],
        nodeIds: ['n1'],
        rackIds: ['r1'],
        priority: 1,
        borrowed: false,
        placedAt: '2026-02-01T00:00:00Z',
      },
      false,
    ],
  ])('%s', (_name, type, payload, valid) => {
    expect(registry.validateNew(type, payload).ok).toBe(valid);
  });

  it('every event type is registered once with the allocation prefix', () => {
    const types = allAllocationEvents.map((d) => d.type);
    expect(new Set(types).size).toBe(types.length);
    expect(types.every((t) => t.startsWith('allocation.'))).toBe(true);
  });
});
