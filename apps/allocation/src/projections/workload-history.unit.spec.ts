import { allocation, EventEnvelope } from '@fleetledger/contracts';
import { historyRow } from './placements.projection';

const envelope = (type: string, payload: object, globalPosition = 7): EventEnvelope => ({
  eventId: '0190f000-0000-7000-8000-000000000000',
  type,
  schemaVersion: 1,
  streamId: allocation.AllocationStreams.placementLedger,
  streamVersion: 1,
  globalPosition,
  occurredAt: '2026-03-01T00:00:00.000Z',
  recordedAt: '2026-03-01T00:00:00.000Z',
  correlationId: 'c',
  payload,
});
const end = {
  workloadId: 'w',
  placementId: 'w#1',
  tenantId: 't',
  leaseId: 'l',
  gpuClass: 'H100',
  gpuIds: ['g1', 'g2'],
};

describe('a workload history row says what happened, when and why', () => {
  it.each([
    {
      name: 'placed on a fallback class',
      type: allocation.WorkloadPlaced.type,
      payload: {
        ...end,
        workloadClass: 'inference',
        nodeIds: ['n'],
        rackIds: ['r'],
        priority: 1,
        borrowed: false,
        placedAt: 'T',
        routing: { requestedClass: 'GB200', reason: 'fallback: GB200 full' },
      },
      row: {
        kind: 'placed',
        at: 'T',
        placementId: 'w#1',
        gpuCount: 2,
        reason: null,
        detail: 'fallback: GB200 full',
      },
    },
    {
      name: 'preempted by a higher priority',
      type: allocation.WorkloadPreempted.type,
      payload: { ...end, preemptedAt: 'T', preemptedBy: 'x', cause: 'priority' },
      row: { kind: 'preempted', reason: 'priority', detail: 'preempted by x' },
    },
    {
      name: 'evicted by a failed GPU',
      type: allocation.WorkloadEvicted.type,
      payload: { ...end, evictedAt: 'T', cause: 'gpu-failed', affectedGpuIds: ['g2'] },
      row: { kind: 'evicted', reason: 'gpu-failed', detail: 'GPUs g2' },
    },
    {
      name: 'queued for capacity',
      type: allocation.WorkloadQueued.type,
      payload: {
        workloadId: 'w',
        tenantId: 't',
        workloadClass: 'training',
        gpuCount: 8,
        priority: 1,
        reason: 'capacity',
        detail: '0 free',
        queuedAt: 'T',
      },
      row: { kind: 'queued', gpuCount: 8, reason: 'capacity', detail: '0 free', placementId: null },
    },
  ])('$name', ({ type, payload, row }) => {
    expect(historyRow(envelope(type, payload))).toMatchObject({ globalPosition: 7, workloadId: 'w', ...row });
  });

  it('lease events have no workload history', () => {
    expect(historyRow(envelope(allocation.LeaseActivated.type, { leaseId: 'l' }))).toBeNull();
  });
});
