import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue #15 (2): every placement records the class the routing policy asked for first and why the
 * class used was chosen (`first choice`, `fallback: GB200 full (...)`). Null on placements recorded
 * before WorkloadPlaced carried it.
 */
export class PlacementRouting1766000000000 implements MigrationInterface {
  name = 'PlacementRouting1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE allocation.placements ADD COLUMN requested_gpu_class text, ADD COLUMN routing_reason text`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE allocation.placements DROP COLUMN requested_gpu_class, DROP COLUMN routing_reason`,
    );
  }
}
