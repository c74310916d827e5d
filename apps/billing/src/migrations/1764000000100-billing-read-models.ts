import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Billing's read models (projections/invoices.projection.ts) and what it keeps of other services' events
 * (leases from allocation, usage it could not rate yet). Money and quantities are bigint integers: minor units,
 * micro-minor prices, thousandths of GPU-seconds and watt-hours.
 */
export class BillingReadModels1764000000100 implements MigrationInterface {
  name = 'BillingReadModels1764000000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE billing.rate_plan_versions (
      rate_plan_id text NOT NULL,
      version integer NOT NULL,
      effective_from timestamptz NOT NULL,
      plan jsonb NOT NULL,
      PRIMARY KEY (rate_plan_id, version)
    )`);
    await q.query(`CREATE TABLE billing.invoices (
      invoice_id text PRIMARY KEY,
      tenant_id text NOT NULL,
      period text NOT NULL,
      status text NOT NULL,
      currency_code text NOT NULL,
      currency_exponent integer NOT NULL,
      invoice_number integer UNIQUE,
      total_minor bigint,
      finalized_at timestamptz
    )`);
    await q.query(`CREATE INDEX invoices_tenant_idx ON billing.invoices (tenant_id, period)`);
    await q.query(`CREATE TABLE billing.charges (
      charge_id text PRIMARY KEY,
      invoice_id text NOT NULL,
      event_id text NOT NULL,
      charge jsonb NOT NULL
    )`);
    await q.query(`CREATE INDEX charges_invoice_idx ON billing.charges (invoice_id)`);
    await q.query(`CREATE TABLE billing.invoice_lines (
      document_id text NOT NULL,
      invoice_id text NOT NULL,
      line_id text NOT NULL,
      line_no integer NOT NULL,
      lease_id text NOT NULL,
      kind text NOT NULL,
      gpu_class text,
      quantity bigint NOT NULL,
      quantity_unit text NOT NULL,
      unit_price_micro_minor bigint,
      amount_minor bigint NOT NULL,
      source_event_ids jsonb NOT NULL,
      PRIMARY KEY (document_id, line_id)
    )`);
    await q.query(`CREATE INDEX invoice_lines_invoice_idx ON billing.invoice_lines (invoice_id)`);
    await q.query(`CREATE TABLE billing.credit_notes (
      credit_note_id text PRIMARY KEY,
      invoice_id text NOT NULL,
      tenant_id text NOT NULL,
      credit_note_number integer NOT NULL UNIQUE,
      reason text NOT NULL,
      total_minor bigint NOT NULL,
      issued_at timestamptz NOT NULL
    )`);
    await q.query(`CREATE INDEX credit_notes_invoice_idx ON billing.credit_notes (invoice_id)`);
    await q.query(`CREATE TABLE billing.leases (
      lease_id text PRIMARY KEY,
      tenant_id text NOT NULL,
      terms jsonb NOT NULL
    )`);
    await q.query(`CREATE INDEX leases_tenant_idx ON billing.leases (tenant_id)`);
    // Usage that is accepted but not (yet) billed stays visible here: 'pending' until its lease or rate plan
    // arrives (then it is rated and the row deleted), 'absorbed' when a correction changed no amount.
    await q.query(`CREATE TABLE billing.usage_holds (
      event_id text PRIMARY KEY,
      lease_id text NOT NULL,
      tenant_id text NOT NULL,
      status text NOT NULL,
      reason text NOT NULL,
      detail text NOT NULL,
      envelope jsonb NOT NULL
    )`);
    await q.query(
      `CREATE INDEX usage_holds_lease_idx ON billing.usage_holds (lease_id) WHERE status = 'pending'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'usage_holds',
      'leases',
      'credit_notes',
      'invoice_lines',
      'charges',
      'invoices',
      'rate_plan_versions',
    ]) {
      await q.query(`DROP TABLE billing.${table}`);
    }
  }
}
