import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The fleet as inventory reports it, for the denominator of utilization (allocated / healthy):
 * - fleet_gpus: each GPU's class and effective health now;
 * - fleet_class_changes: per class and instant (the inventory event's occurredAt), how many GPUs
 *   became (or stopped being) healthy and in service. The count at t is the sum up to t.
 * Both are the `fleet` projection of what the metering-fleet consumer took in (its inbox).
 */
export class FleetCapacity1764000000400 implements MigrationInterface {
  name = 'FleetCapacity1764000000400';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE metering.fleet_gpus (
      gpu_id text PRIMARY KEY,
      gpu_class text NOT NULL,
      health text NOT NULL
    )`);
    await q.query(`CREATE TABLE metering.fleet_class_changes (
      gpu_class text NOT NULL,
      at timestamptz NOT NULL,
      healthy_delta bigint NOT NULL,
      in_service_delta bigint NOT NULL,
      PRIMARY KEY (gpu_class, at)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE metering.fleet_class_changes`);
    await q.query(`DROP TABLE metering.fleet_gpus`);
  }
}
