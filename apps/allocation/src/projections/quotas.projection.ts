import { allocation, EventEnvelope } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';

/** Current quotas, every change with its reason and author, and the routing policy. */
export const quotasProjection: Projection = {
  name: 'allocation-quotas',
  source: { kind: 'log' },
  tables: ['quotas', 'quota_history', 'routing_policy'],
  async apply(tx: Queryable, event: EventEnvelope, schema: string) {
    const s = `"${schema}"`;
    if (!allocation.isAllocationEvent(event)) return;
    if (event.type === allocation.QuotaChanged.type) {
      const p = event.payload;
      await tx.query(
        `INSERT INTO ${s}.quotas (tenant_id, gpu_class, workload_class, nominal, borrow_limit, changed_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, gpu_class, workload_class) DO UPDATE SET nominal = $4, borrow_limit = $5, changed_at = $6`,
        [p.tenantId, p.gpuClass, p.workloadClass, p.nominal, p.borrowLimit, p.changedAt],
      );
      await tx.query(
        `INSERT INTO ${s}.quota_history VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          event.globalPosition,
          p.tenantId,
          p.gpuClass,
          p.workloadClass,
          p.nominal,
          p.borrowLimit,
          p.previous.nominal,
          p.previous.borrowLimit,
          JSON.stringify(p.change),
          p.reason,
          p.author,
          p.changedAt,
        ],
      );
    } else if (event.type === allocation.RoutingPolicyChanged.type) {
      const p = event.payload;
      await tx.query(
        `INSERT INTO ${s}.routing_policy VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET routes = $1, changed_at = $2, reason = $3, author = $4`,
        [JSON.stringify(p.routes), p.changedAt, p.reason, p.author],
      );
    }
  },
};
