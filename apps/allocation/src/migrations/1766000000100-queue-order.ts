import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue #15 (4): queue positions. The queue is ordered by priority (highest first), submission time,
 * then submission order: `submitted_position` is the global position of the WorkloadSubmitted event
 * (the engine orders ties the same way). Existing rows are filled from the log, as a rebuild would.
 */
export class QueueOrder1766000000100 implements MigrationInterface {
  name = 'QueueOrder1766000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE allocation.workloads ADD COLUMN submitted_position bigint`);
    await q.query(
      `UPDATE allocation.workloads w SET submitted_position = e.global_position
         FROM allocation.events e
        WHERE e.type = 'allocation.WorkloadSubmitted' AND e.payload->>'workloadId' = w.workload_id`,
    );
    await q.query(`DROP INDEX allocation.workloads_queue_idx`);
    await q.query(
      `CREATE INDEX workloads_queue_idx ON allocation.workloads (status, priority DESC, submitted_at, submitted_position)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX allocation.workloads_queue_idx`);
    await q.query(`ALTER TABLE allocation.workloads DROP COLUMN submitted_position`);
    await q.query(
      `CREATE INDEX workloads_queue_idx ON allocation.workloads (status, priority DESC, submitted_at)`,
    );
  }
}
