import { allocation, EventEnvelope } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';

/**
 * Workloads (status; the queue) and placements (active while ended_at is null).
 *
 * One code path for one event and for many (`applyPlacementEvents`): the events are folded in memory
 * into final rows, then written with four statements at most: status updates and placement ends for
 * rows that existed before the batch, then inserts of the rows the batch created (with every later
 * change of the batch already folded in). Updates run before inserts, so an update of a row the batch
 * has not created yet changes nothing, exactly as applying the events one by one would.
 */
export const placementsProjection: Projection = {
  name: 'allocation-placements',
  source: { kind: 'log' },
  tables: ['workloads', 'placements', 'workload_history'],
  apply: (tx, event, schema) => applyPlacementEvents(tx, [event], schema),
  applyBatch: (tx, events, schema) => applyPlacementEvents(tx, events, schema),
};

interface WorkloadStatus {
  status: string;
  reason: string | null;
  detail: string | null;
  updatedAt: string;
}
interface WorkloadRow extends WorkloadStatus {
  workloadId: string;
  tenantId: string;
  workloadClass: string;
  gpuCount: number;
  priority: number;
  submittedAt: string;
  submittedPosition: number;
}
interface PlacementEnd {
  endedAt: string;
  endKind: string;
}
interface PlacementRow extends Partial<PlacementEnd> {
  placementId: string;
  payload: allocation.WorkloadPlacedPayload;
}

/** One row of a workload's history (issue #15, 8): what happened, when, and why. */
interface HistoryRow {
  globalPosition: number;
  workloadId: string;
  kind: string;
  at: string;
  placementId: string | null;
  gpuClass: string | null;
  gpuCount: number | null;
  reason: string | null;
  detail: string | null;
}

/** The history row of a placement-ledger event (migration 1766000000200 fills old events with the same rules). */
export function historyRow(event: EventEnvelope): HistoryRow | null {
  if (!allocation.isAllocationEvent(event)) return null;
  /** What every workload event's row says, from the fields its payload has. */
  const row = (p: {
    workloadId: string;
    placementId?: string;
    gpuClass?: string;
    gpuIds?: readonly string[];
    gpuCount?: number;
  }): HistoryRow => ({
    globalPosition: event.globalPosition,
    workloadId: p.workloadId,
    kind: event.type.slice('allocation.Workload'.length).toLowerCase(),
    at: '',
    placementId: p.placementId ?? null,
    gpuClass: p.gpuClass ?? null,
    gpuCount: p.gpuIds ? p.gpuIds.length : (p.gpuCount ?? null),
    reason: null,
    detail: null,
  });
  switch (event.type) {
    case allocation.WorkloadSubmitted.type:
      return { ...row(event.payload), at: event.payload.submittedAt };
    case allocation.WorkloadPlaced.type: {
      const placed = event.payload;
      return { ...row(placed), at: placed.placedAt, detail: placed.routing?.reason ?? null };
    }
    case allocation.WorkloadQueued.type: {
      const queued = event.payload;
      return { ...row(queued), at: queued.queuedAt, reason: queued.reason, detail: queued.detail };
    }
    case allocation.WorkloadRejected.type: {
      const rejected = event.payload;
      return { ...row(rejected), at: rejected.rejectedAt, reason: rejected.reason, detail: rejected.detail };
    }
    case allocation.WorkloadReleased.type:
      return { ...row(event.payload), at: event.payload.releasedAt };
    case allocation.WorkloadPreempted.type: {
      const preempted = event.payload;
      return {
        ...row(preempted),
        at: preempted.preemptedAt,
        reason: preempted.cause,
        detail: `preempted by ${preempted.preemptedBy}`,
      };
    }
    case allocation.WorkloadEvicted.type: {
      const evicted = event.payload;
      return {
        ...row(evicted),
        at: evicted.evictedAt,
        reason: evicted.cause,
        detail: evicted.affectedGpuIds.length > 0 ? `GPUs ${evicted.affectedGpuIds.join(', ')}` : null,
      };
    }
    case allocation.WorkloadWithdrawn.type: {
      const withdrawn = event.payload;
      return { ...row(withdrawn), at: withdrawn.withdrawnAt, detail: withdrawn.reason ?? null };
    }
    default:
      return null;
  }
}

export async function applyPlacementEvents(
  tx: Queryable,
  events: readonly EventEnvelope[],
  schema: string,
): Promise<void> {
  const s = `"${schema}"`;
  const newWorkloads = new Map<string, WorkloadRow>();
  const statusOfExisting = new Map<string, WorkloadStatus>();
  const newPlacements = new Map<string, PlacementRow>();
  const endOfExisting = new Map<string, PlacementEnd>();

  const status = (workloadId: string, next: WorkloadStatus) => {
    const row = newWorkloads.get(workloadId);
    if (row) Object.assign(row, next);
    else statusOfExisting.set(workloadId, next);
  };
  const end = (placementId: string, next: PlacementEnd) => {
    const row = newPlacements.get(placementId);
    if (row) Object.assign(row, next);
    else endOfExisting.set(placementId, next);
  };

  for (const event of events) {
    if (!allocation.isAllocationEvent(event)) continue;
    switch (event.type) {
      case allocation.WorkloadSubmitted.type: {
        const p = event.payload;
        if (newWorkloads.has(p.workloadId)) throw new Error(`workload ${p.workloadId} submitted twice`);
        newWorkloads.set(p.workloadId, {
          workloadId: p.workloadId,
          tenantId: p.tenantId,
          workloadClass: p.workloadClass,
          gpuCount: p.gpuCount,
          priority: p.priority,
          status: 'submitted',
          reason: null,
          detail: null,
          submittedAt: p.submittedAt,
          updatedAt: p.submittedAt,
          submittedPosition: event.globalPosition,
        });
        break;
      }
      case allocation.WorkloadPlaced.type: {
        const p = event.payload;
        if (newPlacements.has(p.placementId)) throw new Error(`placement ${p.placementId} placed twice`);
        newPlacements.set(p.placementId, { placementId: p.placementId, payload: p });
        status(p.workloadId, { status: 'placed', reason: null, detail: null, updatedAt: p.placedAt });
        break;
      }
      case allocation.WorkloadQueued.type: {
        const p = event.payload;
        status(p.workloadId, { status: 'queued', reason: p.reason, detail: p.detail, updatedAt: p.queuedAt });
        break;
      }
      case allocation.WorkloadRejected.type: {
        const p = event.payload;
        status(p.workloadId, {
          status: 'rejected',
          reason: p.reason,
          detail: p.detail,
          updatedAt: p.rejectedAt,
        });
        break;
      }
      case allocation.WorkloadWithdrawn.type: {
        const p = event.payload;
        status(p.workloadId, {
          status: 'withdrawn',
          reason: null,
          detail: p.reason ?? null,
          updatedAt: p.withdrawnAt,
        });
        break;
      }
      case allocation.WorkloadReleased.type: {
        const p = event.payload;
        end(p.placementId, { endedAt: p.releasedAt, endKind: 'released' });
        status(p.workloadId, { status: 'released', reason: null, detail: null, updatedAt: p.releasedAt });
        break;
      }
      case allocation.WorkloadPreempted.type: {
        const p = event.payload;
        end(p.placementId, { endedAt: p.preemptedAt, endKind: 'preempted' });
        break;
      }
      case allocation.WorkloadEvicted.type: {
        const p = event.payload;
        end(p.placementId, { endedAt: p.evictedAt, endKind: 'evicted' });
        break;
      }
    }
  }

  const history = events.map(historyRow).filter((row): row is HistoryRow => row !== null);
  if (history.length > 0) {
    await tx.query(
      `INSERT INTO ${s}.workload_history
       SELECT "globalPosition", "workloadId", kind, at, "placementId", "gpuClass", "gpuCount", reason, detail
         FROM jsonb_to_recordset($1::jsonb) AS r("globalPosition" bigint, "workloadId" text, kind text, at timestamptz,
              "placementId" text, "gpuClass" text, "gpuCount" integer, reason text, detail text)`,
      [JSON.stringify(history)],
    );
  }
  if (statusOfExisting.size > 0) {
    const rows = [...statusOfExisting].map(([workloadId, st]) => ({ workloadId, ...st }));
    await tx.query(
      `UPDATE ${s}.workloads w SET status = u.status, reason = u.reason, detail = u.detail, updated_at = u."updatedAt"
         FROM jsonb_to_recordset($1::jsonb) AS u("workloadId" text, status text, reason text, detail text, "updatedAt" timestamptz)
        WHERE w.workload_id = u."workloadId"`,
      [JSON.stringify(rows)],
    );
  }
  if (endOfExisting.size > 0) {
    const rows = [...endOfExisting].map(([placementId, e]) => ({ placementId, ...e }));
    await tx.query(
      `UPDATE ${s}.placements p SET ended_at = u."endedAt", end_kind = u."endKind"
         FROM jsonb_to_recordset($1::jsonb) AS u("placementId" text, "endedAt" timestamptz, "endKind" text)
        WHERE p.placement_id = u."placementId"`,
      [JSON.stringify(rows)],
    );
  }
  if (newWorkloads.size > 0) {
    await tx.query(
      `INSERT INTO ${s}.workloads
       SELECT "workloadId", "tenantId", "workloadClass", "gpuCount", priority, status, reason, detail, "submittedAt", "updatedAt",
              "submittedPosition"
         FROM jsonb_to_recordset($1::jsonb) AS r("workloadId" text, "tenantId" text, "workloadClass" text, "gpuCount" integer,
              priority integer, status text, reason text, detail text, "submittedAt" timestamptz, "updatedAt" timestamptz,
              "submittedPosition" bigint)`,
      [JSON.stringify([...newWorkloads.values()])],
    );
  }
  if (newPlacements.size > 0) {
    const rows = [...newPlacements.values()].map(({ payload: p, endedAt, endKind }) => ({
      ...p,
      gpuCount: p.gpuIds.length,
      endedAt: endedAt ?? null,
      endKind: endKind ?? null,
      requestedGpuClass: p.routing?.requestedClass ?? null,
      routingReason: p.routing?.reason ?? null,
    }));
    await tx.query(
      `INSERT INTO ${s}.placements
       SELECT "placementId", "workloadId", "tenantId", "leaseId", "workloadClass", "gpuClass", "gpuIds", "nodeIds",
              "gpuCount", priority, borrowed, "placedAt", "endedAt", "endKind", "requestedGpuClass", "routingReason"
         FROM jsonb_to_recordset($1::jsonb) AS r("placementId" text, "workloadId" text, "tenantId" text, "leaseId" text,
              "workloadClass" text, "gpuClass" text, "gpuIds" text[], "nodeIds" text[], "gpuCount" integer, priority integer,
              borrowed boolean, "placedAt" timestamptz, "endedAt" timestamptz, "endKind" text,
              "requestedGpuClass" text, "routingReason" text)`,
      [JSON.stringify(rows)],
    );
  }
}
