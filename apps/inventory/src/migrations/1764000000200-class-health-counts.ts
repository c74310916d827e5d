import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * GPUs per class and effective health (a dozen rows), kept by the fleet projection from the per-rack
 * counts, so the capacity query reads a dozen rows whatever the size of the fleet. A row exists only
 * while its count is above zero.
 */
export class ClassHealthCounts1764000000200 implements MigrationInterface {
  name = 'ClassHealthCounts1764000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE inventory.class_health_counts (
      gpu_class text NOT NULL,
      health text NOT NULL,
      gpus integer NOT NULL,
      PRIMARY KEY (gpu_class, health)
    )`);
    await q.query(`INSERT INTO inventory.class_health_counts (gpu_class, health, gpus)
      SELECT gpu_class, health, sum(gpus)::int FROM inventory.rack_health_counts GROUP BY gpu_class, health`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS inventory.class_health_counts`);
  }
}
