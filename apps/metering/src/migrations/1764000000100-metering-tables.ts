import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Metering's working tables and read models.
 *
 * - samples: every accepted telemetry sample, forever. The primary key on sample_id IS the
 *   deduplication (permanent, never a time window). window_id is the usage window the sample is
 *   counted in, or NULL while no placement is known to have held the GPU (visibly pending).
 *   In production this table is partitioned by sampled_at and old partitions archived; the unique
 *   key then needs a per-partition check plus an archive lookup (not built here).
 * - placements: attribution intervals, one row per placement; `version` lets the ingestion cache
 *   reload only what changed since it last looked at attribution_head.
 * - usage_windows: running sums per lease x class x hour, and what was published for it.
 * - usage_by_record, cluster_utilization_hourly: read models projected from the usage events.
 */
export class MeteringTables1764000000100 implements MigrationInterface {
  name = 'MeteringTables1764000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE metering.samples (
      sample_id text PRIMARY KEY,
      gpu_id text NOT NULL,
      node_id text NOT NULL,
      sampled_at timestamptz NOT NULL,
      attributed_at timestamptz NOT NULL,
      busy_ms integer NOT NULL,
      energy_mj bigint NOT NULL,
      window_id bigint,
      source text NOT NULL
    )`);
    await q.query(`CREATE INDEX samples_gpu_time_idx ON metering.samples (gpu_id, attributed_at)`);
    await q.query(
      `CREATE INDEX samples_unattributed_idx ON metering.samples (attributed_at) WHERE window_id IS NULL`,
    );

    await q.query(
      `CREATE TABLE metering.attribution_head (id int PRIMARY KEY CHECK (id = 1), version bigint NOT NULL)`,
    );
    await q.query(`INSERT INTO metering.attribution_head VALUES (1, 0)`);
    await q.query(`CREATE TABLE metering.placements (
      placement_id text PRIMARY KEY,
      workload_id text NOT NULL,
      lease_id text NOT NULL,
      tenant_id text NOT NULL,
      gpu_class text NOT NULL,
      gpu_ids text[] NOT NULL,
      start_at timestamptz,
      end_at timestamptz,
      event_ids text[] NOT NULL,
      version bigint NOT NULL
    )`);
    await q.query(`CREATE INDEX placements_version_idx ON metering.placements (version)`);
    await q.query(`CREATE INDEX placements_gpus_idx ON metering.placements USING gin (gpu_ids)`);

    await q.query(`CREATE TABLE metering.usage_windows (
      window_id bigserial PRIMARY KEY,
      lease_id text NOT NULL,
      tenant_id text NOT NULL,
      gpu_class text NOT NULL,
      hour_start timestamptz NOT NULL,
      busy_ms bigint NOT NULL DEFAULT 0,
      energy_mj bigint NOT NULL DEFAULT 0,
      sample_count bigint NOT NULL DEFAULT 0,
      digest numeric(20, 0) NOT NULL DEFAULT 0,
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
      dirty boolean NOT NULL DEFAULT false,
      published jsonb,
      corrections integer NOT NULL DEFAULT 0,
      UNIQUE (lease_id, gpu_class, hour_start)
    )`);
    await q.query(
      `CREATE INDEX usage_windows_open_idx ON metering.usage_windows (hour_start) WHERE status = 'open'`,
    );
    await q.query(`CREATE INDEX usage_windows_dirty_idx ON metering.usage_windows (window_id) WHERE dirty`);
    await q.query(
      `CREATE TABLE metering.close_progress (id int PRIMARY KEY CHECK (id = 1), closed_before timestamptz)`,
    );
    await q.query(`INSERT INTO metering.close_progress VALUES (1, NULL)`);

    await q.query(`CREATE TABLE metering.usage_by_record (
      usage_record_id text PRIMARY KEY,
      lease_id text NOT NULL,
      tenant_id text NOT NULL,
      gpu_class text NOT NULL,
      hour_start timestamptz NOT NULL,
      gpu_ms_allocated bigint NOT NULL,
      busy_ms bigint NOT NULL,
      energy_mwh bigint NOT NULL,
      sample_count bigint NOT NULL,
      corrections integer NOT NULL
    )`);
    await q.query(
      `CREATE INDEX usage_by_record_tenant_idx ON metering.usage_by_record (tenant_id, hour_start)`,
    );
    await q.query(`CREATE TABLE metering.cluster_utilization_hourly (
      gpu_class text NOT NULL,
      hour_start timestamptz NOT NULL,
      gpu_ms_allocated bigint NOT NULL,
      busy_ms bigint NOT NULL,
      energy_mwh bigint NOT NULL,
      PRIMARY KEY (gpu_class, hour_start)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'cluster_utilization_hourly',
      'usage_by_record',
      'close_progress',
      'usage_windows',
      'placements',
      'attribution_head',
      'samples',
    ]) {
      await q.query(`DROP TABLE metering.${table}`);
    }
  }
}
