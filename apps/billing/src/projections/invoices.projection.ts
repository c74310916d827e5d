import type { billing } from '@fleetledger/contracts';
import type { EventEnvelope } from '@fleetledger/contracts';
import { ident, Projection, Queryable } from '@fleetledger/eventstore';

type Line = billing.InvoiceLine;

/**
 * Invoices, their charges, lines and credit notes, and the rate plan versions, as tables. A deterministic
 * function of billing's own log: rebuildable from position 0.
 */
export const invoicesProjection: Projection = {
  name: 'invoices',
  source: { kind: 'log' },
  tables: ['rate_plan_versions', 'invoices', 'charges', 'invoice_lines', 'credit_notes'],
  applyBatch: (tx, events, schema) => applyInvoiceEvents(tx, events, schema),
  async apply(tx: Queryable, event, schema) {
    const s = ident(schema);
    switch (event.type) {
      case 'billing.RatePlanPublished': {
        const plan = event.payload as billing.RatePlanPublishedPayload;
        await tx.query(`INSERT INTO ${s}.rate_plan_versions VALUES ($1, $2, $3, $4)`, [
          plan.ratePlanId,
          plan.version,
          plan.effectiveFrom,
          JSON.stringify(plan),
        ]);
        return;
      }
      case 'billing.InvoiceDrafted': {
        const draft = event.payload as billing.InvoiceDraftedPayload;
        await tx.query(
          `INSERT INTO ${s}.invoices (invoice_id, tenant_id, period, status, currency_code, currency_exponent) VALUES ($1, $2, $3, 'draft', $4, $5)`,
          [
            draft.invoiceId,
            draft.tenantId,
            draft.period,
            draft.currency.code,
            draft.currency.minorUnitExponent,
          ],
        );
        return;
      }
      case 'billing.ChargeRated': {
        const charge = event.payload as billing.ChargeRatedPayload;
        await tx.query(`INSERT INTO ${s}.charges VALUES ($1, $2, $3, $4)`, [
          charge.chargeId,
          charge.invoiceId,
          event.eventId,
          JSON.stringify(charge),
        ]);
        return;
      }
      case 'billing.InvoiceFinalized': {
        const invoice = event.payload as billing.InvoiceFinalizedPayload;
        await tx.query(
          `UPDATE ${s}.invoices SET status = 'finalized', invoice_number = $2, total_minor = $3, finalized_at = $4 WHERE invoice_id = $1`,
          [invoice.invoiceId, invoice.invoiceNumber, invoice.totalMinor, invoice.finalizedAt],
        );
        await insertLines(tx, s, invoice.invoiceId, invoice.invoiceId, invoice.lines);
        return;
      }
      case 'billing.CreditNoteIssued': {
        const note = event.payload as billing.CreditNoteIssuedPayload;
        await tx.query(`INSERT INTO ${s}.credit_notes VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
          note.creditNoteId,
          note.invoiceId,
          note.tenantId,
          note.creditNoteNumber,
          note.reason,
          note.totalMinor,
          note.issuedAt,
        ]);
        await insertLines(tx, s, note.creditNoteId, note.invoiceId, note.lines);
        return;
      }
    }
  },
};

async function insertLines(
  tx: Queryable,
  s: string,
  documentId: string,
  invoiceId: string,
  lines: readonly Line[],
): Promise<void> {
  if (lines.length === 0) return;
  const columns = lines.map((line, index) => [
    documentId,
    invoiceId,
    line.lineId,
    index + 1,
    line.leaseId,
    line.kind,
    line.gpuClass ?? null,
    line.quantity,
    line.quantityUnit,
    line.unitPriceMicroMinor ?? null,
    line.amountMinor,
    JSON.stringify(line.sourceEventIds),
  ]);
  const unnest = columns[0].map((_, column) => columns.map((row) => row[column]));
  await tx.query(
    `INSERT INTO ${s}.invoice_lines (document_id, invoice_id, line_id, line_no, lease_id, kind, gpu_class, quantity, quantity_unit,
       unit_price_micro_minor, amount_minor, source_event_ids)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[],
       $10::bigint[], $11::bigint[], $12::jsonb[])`,
    unnest,
  );
}

/**
 * Applies events in order, like `apply` one by one, but inserts runs of ChargeRated with one statement: a
 * month of a big tenant is tens of thousands of charges. Same rows as `apply` (rebuilds use `apply`).
 */
export async function applyInvoiceEvents(
  tx: Queryable,
  events: readonly EventEnvelope[],
  schema: string,
): Promise<void> {
  const s = ident(schema);
  let run: EventEnvelope[] = [];
  const flush = async () => {
    if (run.length === 0) return;
    const charges = run.map((event) => event.payload as billing.ChargeRatedPayload);
    await tx.query(
      `INSERT INTO ${s}.charges SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])`,
      [
        charges.map((charge) => charge.chargeId),
        charges.map((charge) => charge.invoiceId),
        run.map((event) => event.eventId),
        charges.map((charge) => JSON.stringify(charge)),
      ],
    );
    run = [];
  };
  for (const event of events) {
    if (event.type === 'billing.ChargeRated') {
      run.push(event);
      continue;
    }
    await flush();
    await invoicesProjection.apply(tx, event, schema);
  }
  await flush();
}
