import { allocation, EventEnvelope } from '@fleetledger/contracts';
import { TelemetrySample } from '@fleetledger/contracts/metering';
import { v7 as uuidv7 } from 'uuid';

export const at = (hhmmss: string) => `2026-03-01T${hhmmss}.000Z`;

let position = 0;

/** An allocation event as allocation's outbox would publish it (envelope + contract payload). */
export function allocationEvent<T extends string>(
  type: T,
  payload: Record<string, unknown>,
  occurredAt: string,
): EventEnvelope {
  position += 1;
  return {
    eventId: uuidv7(),
    type,
    schemaVersion: 1,
    streamId: allocation.AllocationStreams.placementLedger,
    streamVersion: position,
    globalPosition: position,
    occurredAt,
    recordedAt: occurredAt,
    correlationId: `test-${position}`,
    payload,
  };
}

export function placed(
  placementId: string,
  leaseId: string,
  tenantId: string,
  gpuClass: string,
  gpuIds: string[],
  placedAt: string,
) {
  return allocationEvent(
    allocation.WorkloadPlaced.type,
    {
      workloadId: `w-${placementId}`,
      placementId,
      tenantId,
      leaseId,
      workloadClass: 'training',
      gpuClass,
      gpuIds,
      nodeIds: ['node-1'],
      rackIds: ['rack-1'],
      priority: 1,
      borrowed: false,
      placedAt,
    },
    placedAt,
  );
}

export function released(
  placementId: string,
  leaseId: string,
  tenantId: string,
  gpuClass: string,
  gpuIds: string[],
  releasedAt: string,
) {
  return allocationEvent(
    allocation.WorkloadReleased.type,
    { workloadId: `w-${placementId}`, placementId, tenantId, leaseId, gpuClass, gpuIds, releasedAt },
    releasedAt,
  );
}

export function sample(
  sampleId: string,
  gpuId: string,
  sampledAt: string,
  utilization = 0.5,
  powerW = 700,
): TelemetrySample {
  return { sampleId, gpuId, nodeId: 'node-1', sampledAt, utilization, powerW };
}
