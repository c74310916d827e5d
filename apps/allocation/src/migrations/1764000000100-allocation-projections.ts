import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Read models of the allocation service (projections/): leases, quotas and their history,
 * workloads (the queue is `status = 'queued'`), placements (active while ended_at is null; by
 * tenant, class and node), and the fleet's GPU health as allocation learned it from inventory
 * (the denominator of utilization by class).
 */
export class AllocationProjections1764000000100 implements MigrationInterface {
  name = 'AllocationProjections1764000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE allocation.leases (
      lease_id text PRIMARY KEY,
      tenant_id text NOT NULL,
      status text NOT NULL,
      term_start timestamptz NOT NULL,
      term_end timestamptz NOT NULL,
      committed_gpus jsonb NOT NULL,
      exclusivity text NOT NULL,
      scope jsonb NOT NULL,
      rate_plan_id text NOT NULL,
      signed_at timestamptz NOT NULL,
      terminated_at timestamptz
    )`);
    await q.query(`CREATE INDEX leases_tenant_idx ON allocation.leases (tenant_id)`);
    await q.query(`CREATE TABLE allocation.quotas (
      tenant_id text NOT NULL,
      gpu_class text NOT NULL,
      workload_class text NOT NULL,
      nominal integer NOT NULL,
      borrow_limit integer NOT NULL,
      changed_at timestamptz NOT NULL,
      PRIMARY KEY (tenant_id, gpu_class, workload_class)
    )`);
    await q.query(`CREATE TABLE allocation.quota_history (
      global_position bigint PRIMARY KEY,
      tenant_id text NOT NULL,
      gpu_class text NOT NULL,
      workload_class text NOT NULL,
      nominal integer NOT NULL,
      borrow_limit integer NOT NULL,
      previous_nominal integer NOT NULL,
      previous_borrow_limit integer NOT NULL,
      change jsonb NOT NULL,
      reason text NOT NULL,
      author text NOT NULL,
      changed_at timestamptz NOT NULL
    )`);
    await q.query(
      `CREATE INDEX quota_history_tenant_idx ON allocation.quota_history (tenant_id, global_position)`,
    );
    await q.query(`CREATE TABLE allocation.routing_policy (
      id smallint PRIMARY KEY,
      routes jsonb NOT NULL,
      changed_at timestamptz NOT NULL,
      reason text NOT NULL,
      author text NOT NULL
    )`);
    await q.query(`CREATE TABLE allocation.workloads (
      workload_id text PRIMARY KEY,
      tenant_id text NOT NULL,
      workload_class text NOT NULL,
      gpu_count integer NOT NULL,
      priority integer NOT NULL,
      status text NOT NULL,
      reason text,
      detail text,
      submitted_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`);
    await q.query(
      `CREATE INDEX workloads_queue_idx ON allocation.workloads (status, priority DESC, submitted_at)`,
    );
    await q.query(`CREATE TABLE allocation.placements (
      placement_id text PRIMARY KEY,
      workload_id text NOT NULL,
      tenant_id text NOT NULL,
      lease_id text NOT NULL,
      workload_class text NOT NULL,
      gpu_class text NOT NULL,
      gpu_ids text[] NOT NULL,
      node_ids text[] NOT NULL,
      gpu_count integer NOT NULL,
      priority integer NOT NULL,
      borrowed boolean NOT NULL,
      placed_at timestamptz NOT NULL,
      ended_at timestamptz,
      end_kind text
    )`);
    await q.query(
      `CREATE INDEX placements_active_idx ON allocation.placements (tenant_id, gpu_class) WHERE ended_at IS NULL`,
    );
    await q.query(`CREATE INDEX placements_nodes_idx ON allocation.placements USING gin (node_ids)`);
    await q.query(`CREATE TABLE allocation.fleet_gpus (
      gpu_id text PRIMARY KEY,
      gpu_class text NOT NULL,
      node_id text NOT NULL,
      health text NOT NULL
    )`);
    await q.query(`CREATE INDEX fleet_gpus_class_idx ON allocation.fleet_gpus (gpu_class, health)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'fleet_gpus',
      'placements',
      'workloads',
      'routing_policy',
      'quota_history',
      'quotas',
      'leases',
    ]) {
      await q.query(`DROP TABLE allocation.${table}`);
    }
  }
}
