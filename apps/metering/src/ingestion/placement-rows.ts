import { GpuClass } from '@fleetledger/contracts/metering';
import { PlacementInterval } from '../domain/attribution';

export interface PlacementRow {
  placement_id: string;
  workload_id: string;
  lease_id: string;
  tenant_id: string;
  gpu_class: string;
  gpu_ids: string[];
  start_at: Date | null;
  end_at: Date | null;
  event_ids: string[];
  version: string;
}

export const PLACEMENT_COLUMNS =
  'placement_id, workload_id, lease_id, tenant_id, gpu_class, gpu_ids, start_at, end_at, event_ids, version';

export function intervalFromRow(row: PlacementRow): PlacementInterval {
  return {
    placementId: row.placement_id,
    workloadId: row.workload_id,
    leaseId: row.lease_id,
    tenantId: row.tenant_id,
    gpuClass: row.gpu_class as GpuClass,
    gpuIds: row.gpu_ids,
    startMs: row.start_at ? row.start_at.getTime() : undefined,
    endMs: row.end_at ? row.end_at.getTime() : undefined,
    eventIds: row.event_ids,
  };
}
