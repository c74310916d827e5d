import { DataSource } from 'typeorm';
import { DEFAULT_ROUTES } from '../domain/routing';

/** Reads of the allocation projections. Only this service's own tables. */
export class AllocationQueries {
  private readonly s: string;
  constructor(
    private readonly dataSource: DataSource,
    schema: string,
  ) {
    this.s = `"${schema}"`;
  }

  leases(tenantId?: string, leaseId?: string) {
    return this.dataSource.query(
      `SELECT lease_id AS "leaseId", tenant_id AS "tenantId", status, term_start AS "termStart", term_end AS "termEnd",
              committed_gpus AS "committedGpus", exclusivity, scope, rate_plan_id AS "ratePlanId", terminated_at AS "terminatedAt"
         FROM ${this.s}.leases WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR lease_id = $2) ORDER BY lease_id`,
      [tenantId ?? null, leaseId ?? null],
    );
  }

  quotas(tenantId: string) {
    return this.dataSource.query(
      `SELECT gpu_class AS "gpuClass", workload_class AS "workloadClass", nominal, borrow_limit AS "borrowLimit", changed_at AS "changedAt"
         FROM ${this.s}.quotas WHERE tenant_id = $1 ORDER BY gpu_class, workload_class`,
      [tenantId],
    );
  }

  quotaHistory(tenantId: string) {
    return this.dataSource.query(
      `SELECT gpu_class AS "gpuClass", workload_class AS "workloadClass", nominal, borrow_limit AS "borrowLimit",
              previous_nominal AS "previousNominal", previous_borrow_limit AS "previousBorrowLimit", change, reason, author, changed_at AS "changedAt"
         FROM ${this.s}.quota_history WHERE tenant_id = $1 ORDER BY global_position`,
      [tenantId],
    );
  }

  /** The policy in force: the last one set, or the default (DESIGN.md) while none was ever set. */
  async routes() {
    const [row] = await this.dataSource.query(
      `SELECT routes, changed_at AS "changedAt", reason, author FROM ${this.s}.routing_policy WHERE id = 1`,
    );
    return row
      ? { source: 'changed', ...row }
      : {
          source: 'default',
          routes: DEFAULT_ROUTES,
          changedAt: null,
          reason: 'default routing policy (DESIGN.md)',
          author: null,
        };
  }

  /** One workload: its status, why (queued or rejected), and its place in the queue while queued (1 = next). */
  async workload(workloadId: string) {
    const [row] = await this.dataSource.query(
      `SELECT w.workload_id AS "workloadId", w.tenant_id AS "tenantId", w.workload_class AS "workloadClass", w.gpu_count AS "gpuCount",
              w.priority, w.status, w.reason, w.detail, w.updated_at AS "updatedAt",
              CASE WHEN w.status = 'queued' THEN (
                SELECT count(*)::int + 1 FROM ${this.s}.workloads o
                 WHERE o.status = 'queued'
                   AND (o.priority, -extract(epoch FROM o.submitted_at), -o.submitted_position)
                     > (w.priority, -extract(epoch FROM w.submitted_at), -w.submitted_position)
              ) END AS "queuePosition"
         FROM ${this.s}.workloads w WHERE w.workload_id = $1`,
      [workloadId],
    );
    if (!row) return row;
    const history = await this.dataSource.query(
      `SELECT kind, at, placement_id AS "placementId", gpu_class AS "gpuClass", gpu_count AS "gpuCount", reason, detail
         FROM ${this.s}.workload_history WHERE workload_id = $1 ORDER BY global_position`,
      [workloadId],
    );
    return { ...row, history };
  }

  /** The queue in the order the engine tries it (priority, submission time, submission order), with positions. */
  queue() {
    return this.dataSource.query(
      `SELECT row_number() OVER (ORDER BY priority DESC, submitted_at, submitted_position)::int AS "position",
              workload_id AS "workloadId", tenant_id AS "tenantId", workload_class AS "workloadClass", gpu_count AS "gpuCount",
              priority, reason, detail, updated_at AS "updatedAt"
         FROM ${this.s}.workloads WHERE status = 'queued' ORDER BY priority DESC, submitted_at, submitted_position`,
    );
  }

  placements(filter: { tenantId?: string; gpuClass?: string; nodeId?: string }) {
    return this.dataSource.query(
      `SELECT placement_id AS "placementId", workload_id AS "workloadId", tenant_id AS "tenantId", lease_id AS "leaseId", workload_class AS "workloadClass",
              gpu_class AS "gpuClass", gpu_ids AS "gpuIds", node_ids AS "nodeIds", borrowed, placed_at AS "placedAt",
              requested_gpu_class AS "requestedGpuClass", routing_reason AS "routingReason"
         FROM ${this.s}.placements
        WHERE ended_at IS NULL AND ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR gpu_class = $2) AND ($3::text IS NULL OR node_ids @> ARRAY[$3::text])
        ORDER BY placement_id`,
      [filter.tenantId ?? null, filter.gpuClass ?? null, filter.nodeId ?? null],
    );
  }

  async utilization() {
    const rows = await this.dataSource.query<{ gpu_class: string; healthy: string; allocated: string }[]>(
      `SELECT c.gpu_class, coalesce(h.healthy, 0) AS healthy, coalesce(a.allocated, 0) AS allocated
         FROM (SELECT DISTINCT gpu_class FROM ${this.s}.fleet_gpus) c
         LEFT JOIN (SELECT gpu_class, count(*) AS healthy FROM ${this.s}.fleet_gpus WHERE health = 'healthy' GROUP BY gpu_class) h USING (gpu_class)
         LEFT JOIN (SELECT gpu_class, sum(gpu_count) AS allocated FROM ${this.s}.placements WHERE ended_at IS NULL GROUP BY gpu_class) a USING (gpu_class)
        ORDER BY c.gpu_class`,
    );
    return rows.map((r) => ({
      gpuClass: r.gpu_class,
      allocated: Number(r.allocated),
      healthy: Number(r.healthy),
      utilization: Number(r.healthy) ? Number(r.allocated) / Number(r.healthy) : 0,
    }));
  }
}
