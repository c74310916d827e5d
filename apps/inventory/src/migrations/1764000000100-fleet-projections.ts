import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The fleet read model (projections/fleet.projection.ts): one row per site, hall, rack, node and GPU,
 * and per-rack counts of GPUs by effective health, so capacity queries sum a few thousand rows
 * instead of scanning 220,000 GPUs. Power columns are whole watts.
 */
export class FleetProjections1764000000100 implements MigrationInterface {
  name = 'FleetProjections1764000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE inventory.sites (
      site_id text PRIMARY KEY,
      name text NOT NULL,
      power_cap_w bigint NOT NULL,
      draw_w bigint NOT NULL
    )`);
    await q.query(`CREATE TABLE inventory.halls (
      hall_id text PRIMARY KEY,
      site_id text NOT NULL,
      name text NOT NULL,
      power_cap_w bigint NOT NULL,
      draw_w bigint NOT NULL
    )`);
    await q.query(`CREATE TABLE inventory.racks (
      rack_id text PRIMARY KEY,
      hall_id text NOT NULL,
      site_id text NOT NULL,
      gpu_class text NOT NULL,
      form text NOT NULL,
      nvlink_domain text,
      power_budget_w bigint NOT NULL,
      draw_w bigint NOT NULL,
      draining boolean NOT NULL,
      nodes_in_service integer NOT NULL
    )`);
    await q.query(`CREATE INDEX racks_hall_idx ON inventory.racks (hall_id)`);
    await q.query(`CREATE TABLE inventory.nodes (
      node_id text PRIMARY KEY,
      rack_id text NOT NULL,
      hall_id text NOT NULL,
      site_id text NOT NULL,
      gpu_class text NOT NULL,
      nominal_power_w bigint NOT NULL,
      draining boolean NOT NULL,
      decommissioned boolean NOT NULL,
      gpu_ids text[] NOT NULL
    )`);
    await q.query(`CREATE INDEX nodes_rack_idx ON inventory.nodes (rack_id)`);
    await q.query(`CREATE TABLE inventory.gpus (
      gpu_id text PRIMARY KEY,
      node_id text NOT NULL,
      rack_id text NOT NULL,
      hall_id text NOT NULL,
      gpu_class text NOT NULL,
      memory_gb integer NOT NULL,
      nvlink_domain text NOT NULL,
      reported_health text NOT NULL,
      health text NOT NULL
    )`);
    await q.query(`CREATE INDEX gpus_rack_idx ON inventory.gpus (rack_id)`);
    await q.query(`CREATE TABLE inventory.rack_health_counts (
      rack_id text NOT NULL,
      health text NOT NULL,
      hall_id text NOT NULL,
      gpu_class text NOT NULL,
      gpus integer NOT NULL,
      PRIMARY KEY (rack_id, health)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['rack_health_counts', 'gpus', 'nodes', 'racks', 'halls', 'sites']) {
      await q.query(`DROP TABLE IF EXISTS inventory.${table}`);
    }
  }
}
