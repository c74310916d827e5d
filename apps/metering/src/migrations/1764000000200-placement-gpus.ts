import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * GPU -> placement lookup as a plain btree table: the GIN index on placements.gpu_ids answered
 * "which placements hold any of these 512 GPUs" in ~0.5 s under load, once per placement event.
 */
export class PlacementGpus1764000000200 implements MigrationInterface {
  name = 'PlacementGpus1764000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE metering.placement_gpus (gpu_id text NOT NULL, placement_id text NOT NULL, PRIMARY KEY (gpu_id, placement_id))`,
    );
    await q.query(
      `INSERT INTO metering.placement_gpus SELECT unnest(gpu_ids), placement_id FROM metering.placements ON CONFLICT DO NOTHING`,
    );
    await q.query(`DROP INDEX metering.placements_gpus_idx`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX placements_gpus_idx ON metering.placements USING gin (gpu_ids)`);
    await q.query(`DROP TABLE metering.placement_gpus`);
  }
}
