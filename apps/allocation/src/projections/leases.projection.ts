import { allocation, EventEnvelope } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';

/** One row per lease with its current terms and status (signed, active, terminated, expired). */
export const leasesProjection: Projection = {
  name: 'allocation-leases',
  source: { kind: 'log' },
  tables: ['leases'],
  async apply(tx: Queryable, event: EventEnvelope, schema: string) {
    const s = `"${schema}"`;
    if (!allocation.isAllocationEvent(event)) return;
    switch (event.type) {
      case allocation.LeaseSigned.type: {
        const p = event.payload;
        await tx.query(
          `INSERT INTO ${s}.leases (lease_id, tenant_id, status, term_start, term_end, committed_gpus, exclusivity, scope, rate_plan_id, signed_at)
           VALUES ($1, $2, 'signed', $3, $4, $5, $6, $7, $8, $9)`,
          [
            p.leaseId,
            p.tenantId,
            p.term.start,
            p.term.end,
            JSON.stringify(p.committedGpus),
            p.exclusivity,
            JSON.stringify(p.scope),
            p.ratePlanId,
            p.signedAt,
          ],
        );
        return;
      }
      case allocation.LeaseActivated.type:
        await tx.query(`UPDATE ${s}.leases SET status = 'active' WHERE lease_id = $1`, [
          event.payload.leaseId,
        ]);
        return;
      case allocation.LeaseAmended.type: {
        const p = event.payload;
        await tx.query(
          `UPDATE ${s}.leases SET term_start = $2, term_end = $3, committed_gpus = $4, scope = $5, rate_plan_id = $6 WHERE lease_id = $1`,
          [
            p.leaseId,
            p.term.start,
            p.term.end,
            JSON.stringify(p.committedGpus),
            JSON.stringify(p.scope),
            p.ratePlanId,
          ],
        );
        return;
      }
      case allocation.LeaseTerminated.type: {
        const p = event.payload;
        await tx.query(
          `UPDATE ${s}.leases SET status = 'terminated', terminated_at = $2 WHERE lease_id = $1`,
          [p.leaseId, p.terminatedAt],
        );
        return;
      }
      case allocation.LeaseExpired.type:
        await tx.query(`UPDATE ${s}.leases SET status = 'expired' WHERE lease_id = $1`, [
          event.payload.leaseId,
        ]);
        return;
    }
  },
};
