import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * metering.samples becomes a table partitioned by day (RANGE on sample_day, the UTC day of the
 * hour the sample is counted in), so storage is bounded by what the operator keeps attached:
 *
 * - The dedup key is (sample_id, sample_day). A sample id names one reading, and a redelivery (Kafka
 *   retry, HTTP retry, replayed agent buffer) carries the same sampledAt, so it lands in the same day
 *   partition and hits the same key: deduplication stays permanent for every attached day.
 * - `sample_retention.archived_before` is the archive horizon. Days before it are detached
 *   (`POST /metering/samples/archive`): the partition becomes an ordinary table the operator dumps
 *   and drops. A sample for a day before the horizon is REFUSED (`beyond-retention`, dead-lettered
 *   or rejected), never stored: it cannot be checked against the archive, and counting it could count
 *   it twice. Re-attaching the archived table (and lowering the horizon) makes those days live again.
 * - `sample_archive` keeps the counts of each detached day, so `accepted = rated + pending` still adds
 *   up after archiving.
 * Partitions are created on demand by the ingestion path (one per day, `samples_YYYYMMDD`).
 */
export class PartitionSamples1764000000300 implements MigrationInterface {
  name = 'PartitionSamples1764000000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE metering.samples RENAME TO samples_unpartitioned`);
    await q.query(`ALTER INDEX metering.samples_pkey RENAME TO samples_unpartitioned_pkey`);
    await q.query(`ALTER INDEX metering.samples_gpu_time_idx RENAME TO samples_unpartitioned_gpu_time_idx`);
    await q.query(
      `ALTER INDEX metering.samples_unattributed_idx RENAME TO samples_unpartitioned_unattributed_idx`,
    );
    await q.query(`CREATE TABLE metering.samples (
      sample_id text NOT NULL,
      sample_day date NOT NULL,
      gpu_id text NOT NULL,
      node_id text NOT NULL,
      sampled_at timestamptz NOT NULL,
      attributed_at timestamptz NOT NULL,
      busy_ms integer NOT NULL,
      energy_mj bigint NOT NULL,
      window_id bigint,
      source text NOT NULL,
      PRIMARY KEY (sample_id, sample_day)
    ) PARTITION BY RANGE (sample_day)`);
    await q.query(`CREATE INDEX samples_gpu_time_idx ON metering.samples (gpu_id, attributed_at)`);
    await q.query(
      `CREATE INDEX samples_unattributed_idx ON metering.samples (attributed_at) WHERE window_id IS NULL`,
    );
    const days = await q.query(
      `SELECT DISTINCT (attributed_at AT TIME ZONE 'UTC')::date::text AS day FROM metering.samples_unpartitioned`,
    );
    for (const { day } of days as { day: string }[]) {
      await q.query(
        `CREATE TABLE metering.samples_${day.replaceAll('-', '')} PARTITION OF metering.samples
           FOR VALUES FROM ('${day}') TO ('${day}'::date + 1)`,
      );
    }
    await q.query(`INSERT INTO metering.samples
      SELECT sample_id, (attributed_at AT TIME ZONE 'UTC')::date, gpu_id, node_id, sampled_at, attributed_at,
             busy_ms, energy_mj, window_id, source
        FROM metering.samples_unpartitioned`);
    await q.query(`DROP TABLE metering.samples_unpartitioned`);

    await q.query(
      `CREATE TABLE metering.sample_retention (id int PRIMARY KEY CHECK (id = 1), archived_before date)`,
    );
    await q.query(`INSERT INTO metering.sample_retention VALUES (1, NULL)`);
    await q.query(`CREATE TABLE metering.sample_archive (
      sample_day date PRIMARY KEY,
      table_name text NOT NULL,
      samples bigint NOT NULL,
      unattributed bigint NOT NULL,
      archived_at timestamptz NOT NULL
    )`);
  }

  async down(): Promise<void> {
    throw new Error('PartitionSamples1764000000300 cannot be reverted: restore from a backup');
  }
}
