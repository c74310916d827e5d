import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What billing keeps of inventory's health events for SLA credits (domain/availability.ts): each GPU's
 * current availability, and every change of it with the instant it happened (the inventory event's occurredAt).
 * Only changes between available (healthy, degraded) and unavailable (failed, draining, decommissioned) are kept.
 */
export class BillingFleetHealth1764000000200 implements MigrationInterface {
  name = 'BillingFleetHealth1764000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE billing.fleet_gpus (
      gpu_id text PRIMARY KEY,
      rack_id text NOT NULL,
      hall_id text NOT NULL,
      gpu_class text NOT NULL,
      available boolean NOT NULL,
      event_id text NOT NULL
    )`);
    await q.query(`CREATE TABLE billing.gpu_availability_changes (
      gpu_id text NOT NULL,
      event_id text NOT NULL,
      at timestamptz NOT NULL,
      seq bigserial NOT NULL,
      rack_id text NOT NULL,
      hall_id text NOT NULL,
      gpu_class text NOT NULL,
      available boolean NOT NULL,
      PRIMARY KEY (gpu_id, event_id)
    )`);
    await q.query(
      `CREATE INDEX gpu_availability_changes_class_idx ON billing.gpu_availability_changes (gpu_class, at, seq)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE billing.gpu_availability_changes`);
    await q.query(`DROP TABLE billing.fleet_gpus`);
  }
}
