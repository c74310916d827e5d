import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * GPU availability changes are ordered by the inventory event's global position instead of a local serial: a
 * serial skips values when a consumer transaction rolls back, so a replay of the inbox would not reproduce it;
 * the position does (the fleet-health projection is rebuilt and compared by the audit).
 */
export class BillingFleetHealthPosition1764000000300 implements MigrationInterface {
  name = 'BillingFleetHealthPosition1764000000300';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX billing.gpu_availability_changes_class_idx`);
    await q.query(`ALTER TABLE billing.gpu_availability_changes DROP COLUMN seq`);
    await q.query(
      `ALTER TABLE billing.gpu_availability_changes ADD COLUMN position bigint NOT NULL DEFAULT 0`,
    );
    await q.query(`ALTER TABLE billing.gpu_availability_changes ALTER COLUMN position DROP DEFAULT`);
    await q.query(
      `CREATE INDEX gpu_availability_changes_class_idx ON billing.gpu_availability_changes (gpu_class, at, position)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX billing.gpu_availability_changes_class_idx`);
    await q.query(`ALTER TABLE billing.gpu_availability_changes DROP COLUMN position`);
    await q.query(`ALTER TABLE billing.gpu_availability_changes ADD COLUMN seq bigserial NOT NULL`);
    await q.query(
      `CREATE INDEX gpu_availability_changes_class_idx ON billing.gpu_availability_changes (gpu_class, at, seq)`,
    );
  }
}
