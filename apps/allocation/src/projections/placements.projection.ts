import { allocation, EventEnvelope } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';

/** Workloads (status; the queue) and placements (active while ended_at is null). */
export const placementsProjection: Projection = {
  name: 'allocation-placements',
  source: { kind: 'log' },
  tables: ['workloads', 'placements'],
  async apply(tx: Queryable, event: EventEnvelope, schema: string) {
    const s = `"${schema}"`;
    const status = (
      workloadId: string,
      value: string,
      at: string,
      reason: string | null = null,
      detail: string | null = null,
    ) =>
      tx.query(
        `UPDATE ${s}.workloads SET status = $2, reason = $3, detail = $4, updated_at = $5 WHERE workload_id = $1`,
        [workloadId, value, reason, detail, at],
      );
    const end = (p: { placementId: string }, at: string, kind: string) =>
      tx.query(`UPDATE ${s}.placements SET ended_at = $2, end_kind = $3 WHERE placement_id = $1`, [
        p.placementId,
        at,
        kind,
      ]);
    switch (event.type) {
      case allocation.WorkloadSubmitted.type: {
        const p = event.payload as allocation.WorkloadSubmittedPayload;
        await tx.query(
          `INSERT INTO ${s}.workloads VALUES ($1, $2, $3, $4, $5, 'submitted', NULL, NULL, $6, $6)`,
          [p.workloadId, p.tenantId, p.workloadClass, p.gpuCount, p.priority, p.submittedAt],
        );
        return;
      }
      case allocation.WorkloadPlaced.type: {
        const p = event.payload as allocation.WorkloadPlacedPayload;
        await tx.query(
          `INSERT INTO ${s}.placements VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, NULL)`,
          [
            p.placementId,
            p.workloadId,
            p.tenantId,
            p.leaseId,
            p.workloadClass,
            p.gpuClass,
            p.gpuIds,
            p.nodeIds,
            p.gpuIds.length,
            p.priority,
            p.borrowed,
            p.placedAt,
          ],
        );
        await status(p.workloadId, 'placed', p.placedAt);
        return;
      }
      case allocation.WorkloadQueued.type: {
        const p = event.payload as allocation.WorkloadQueuedPayload;
        await status(p.workloadId, 'queued', p.queuedAt, p.reason, p.detail);
        return;
      }
      case allocation.WorkloadRejected.type: {
        const p = event.payload as allocation.WorkloadRejectedPayload;
        await status(p.workloadId, 'rejected', p.rejectedAt, p.reason, p.detail);
        return;
      }
      case allocation.WorkloadWithdrawn.type: {
        const p = event.payload as allocation.WorkloadWithdrawnPayload;
        await status(p.workloadId, 'withdrawn', p.withdrawnAt, null, p.reason ?? null);
        return;
      }
      case allocation.WorkloadReleased.type: {
        const p = event.payload as allocation.WorkloadReleasedPayload;
        await end(p, p.releasedAt, 'released');
        await status(p.workloadId, 'released', p.releasedAt);
        return;
      }
      case allocation.WorkloadPreempted.type: {
        const p = event.payload as allocation.WorkloadPreemptedPayload;
        await end(p, p.preemptedAt, 'preempted');
        return;
      }
      case allocation.WorkloadEvicted.type: {
        const p = event.payload as allocation.WorkloadEvictedPayload;
        await end(p, p.evictedAt, 'evicted');
        return;
      }
    }
  },
};
