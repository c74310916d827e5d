import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue #22: the latest metering watermark (UsageWindowsClosed) billing handled per partition of
 * metering's topic, written by the usage consumer in the transaction that rates what came before it;
 * and the written reason of an invoice finance forced final while incomplete.
 */
export class BillingCompleteness1766100000000 implements MigrationInterface {
  name = 'BillingCompleteness1766100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE billing.input_watermarks (
         input text NOT NULL,
         partition integer NOT NULL,
         partitions integer NOT NULL,
         watermark timestamptz NOT NULL,
         event_id uuid NOT NULL,
         PRIMARY KEY (input, partition)
       )`,
    );
    await q.query(`ALTER TABLE billing.invoices ADD COLUMN forced_reason text`);
    await q.query(`ALTER TABLE billing.invoices ADD COLUMN completeness jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE billing.invoices DROP COLUMN completeness`);
    await q.query(`ALTER TABLE billing.invoices DROP COLUMN forced_reason`);
    await q.query(`DROP TABLE billing.input_watermarks`);
  }
}
