import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue #22: the latest watermark metering handled from each partition of each input topic (the
 * placements consumer writes it in the same transaction as the events before it, so "handled the
 * marker" implies "handled everything before it on that partition").
 */
export class InputWatermarks1766100000000 implements MigrationInterface {
  name = 'InputWatermarks1766100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE metering.input_watermarks (
         input text NOT NULL,
         topic text NOT NULL,
         partition integer NOT NULL,
         partitions integer NOT NULL,
         watermark timestamptz NOT NULL,
         source text NOT NULL,
         event_id uuid NOT NULL,
         PRIMARY KEY (input, partition)
       )`,
    );
    // The version of the `metering-progress` stream (UsageWindowsClosed), appended by the closer.
    await q.query(
      `ALTER TABLE metering.close_progress ADD COLUMN progress_version integer NOT NULL DEFAULT 0`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE metering.close_progress DROP COLUMN progress_version`);
    await q.query(`DROP TABLE metering.input_watermarks`);
  }
}
