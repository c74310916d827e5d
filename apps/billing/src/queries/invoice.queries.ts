import { Injectable } from '@nestjs/common';
import type { billing } from '@fleetledger/contracts';
import { DataSource } from 'typeorm';
import { billingError } from '../billing-errors';
import { BillingStore } from '../handlers/billing-store';
import { FLEET_HEALTH_CONSUMER } from '../api/fleet-health.consumer';
import { USAGE_CONSUMER } from '../api/usage.consumer';
import { ident, readInbox } from '@fleetledger/eventstore';
import { BILLING_SCHEMA } from '../billing.options';

const S = ident(BILLING_SCHEMA);

interface InvoiceRow {
  invoice_id: string;
  tenant_id: string;
  period: string;
  status: 'draft' | 'finalized';
  currency_code: string;
  currency_exponent: number;
  invoice_number: number | null;
  total_minor: string | null;
  finalized_at: Date | null;
}

interface LineRow {
  line_id: string;
  lease_id: string;
  kind: string;
  gpu_class: string | null;
  quantity: string;
  quantity_unit: string;
  unit_price_micro_minor: string | null;
  amount_minor: string;
  source_event_ids: string[];
}

/**
 * Reads for the HTTP API, always scoped to the caller's tenant: an invoice of another tenant does not exist
 * for the caller (404, the same answer as an unknown id, so ids cannot be probed).
 */
@Injectable()
export class InvoiceQueries {
  constructor(
    private readonly dataSource: DataSource,
    private readonly billing: BillingStore,
  ) {}

  async list(tenantId: string, period?: string) {
    const rows = await this.dataSource.query<InvoiceRow[]>(
      `SELECT * FROM ${S}.invoices WHERE tenant_id = $1 AND ($2::text IS NULL OR period = $2) ORDER BY period, invoice_id`,
      [tenantId, period ?? null],
    );
    // A draft shows its running total: what finalizing it now would bill (the preview, as `get` shows it).
    const invoices = [];
    for (const row of rows) {
      const header = this.header(row);
      if (header.totalMinor !== null) invoices.push(header);
      else
        invoices.push({
          ...header,
          totalMinor: (await this.draftLines(row))
            .reduce((sum, line) => sum + BigInt(line.amountMinor), 0n)
            .toString(),
        });
    }
    return invoices;
  }

  async get(tenantId: string, invoiceId: string) {
    const row = await this.invoiceRow(tenantId, invoiceId);
    const lines = row.status === 'finalized' ? await this.storedLines(invoiceId) : await this.draftLines(row);
    const creditNotes = await this.dataSource.query<
      {
        credit_note_id: string;
        credit_note_number: number;
        reason: string;
        total_minor: string;
        issued_at: Date;
      }[]
    >(`SELECT * FROM ${S}.credit_notes WHERE invoice_id = $1 ORDER BY credit_note_number`, [invoiceId]);
    const notes = [];
    for (const note of creditNotes) {
      notes.push({
        creditNoteId: note.credit_note_id,
        creditNoteNumber: note.credit_note_number,
        reason: note.reason,
        totalMinor: String(note.total_minor),
        issuedAt: note.issued_at.toISOString(),
        lines: await this.storedLines(note.credit_note_id),
      });
    }
    const header = this.header(row);
    // A draft's total is the preview's: what finalizing now would bill.
    const totalMinor =
      header.totalMinor ?? lines.reduce((sum, line) => sum + BigInt(line.amountMinor), 0n).toString();
    return { ...header, totalMinor, lines, creditNotes: notes };
  }

  /** The events an invoice line's amount came from, as they were consumed or appended. */
  async sourceEvents(tenantId: string, invoiceId: string, lineId: string) {
    const invoice = await this.get(tenantId, invoiceId);
    const line = [...invoice.lines, ...invoice.creditNotes.flatMap((note) => note.lines)].find(
      (candidate) => candidate.lineId === lineId,
    );
    if (!line)
      throw billingError({
        reason: 'invoice-not-found',
        detail: `no line ${lineId} on invoice ${invoiceId}`,
      });
    const consumed = await readInbox(this.dataSource, this.billing.store.schema, {
      consumers: [USAGE_CONSUMER, FLEET_HEALTH_CONSUMER],
      eventIds: line.sourceEventIds,
    });
    const byId = new Map(consumed.map(({ envelope }) => [envelope.eventId, envelope]));
    return {
      lineId,
      sourceEventIds: line.sourceEventIds,
      events: line.sourceEventIds.map((id) => byId.get(id)).filter(Boolean),
    };
  }

  private async invoiceRow(tenantId: string, invoiceId: string): Promise<InvoiceRow> {
    const [row] = await this.dataSource.query<InvoiceRow[]>(
      `SELECT * FROM ${S}.invoices WHERE invoice_id = $1 AND tenant_id = $2`,
      [invoiceId, tenantId],
    );
    if (!row) throw billingError({ reason: 'invoice-not-found', detail: `no invoice ${invoiceId}` });
    return row;
  }

  private header(row: InvoiceRow) {
    return {
      invoiceId: row.invoice_id,
      tenantId: row.tenant_id,
      period: row.period,
      status: row.status,
      currency: { code: row.currency_code, minorUnitExponent: row.currency_exponent },
      invoiceNumber: row.invoice_number,
      totalMinor: row.total_minor === null ? null : String(row.total_minor),
      finalizedAt: row.finalized_at?.toISOString() ?? null,
    };
  }

  private async storedLines(documentId: string): Promise<billing.InvoiceLine[]> {
    const rows = await this.dataSource.query<LineRow[]>(
      `SELECT * FROM ${S}.invoice_lines WHERE document_id = $1 ORDER BY line_no`,
      [documentId],
    );
    return rows.map((row) => ({
      lineId: row.line_id,
      leaseId: row.lease_id,
      kind: row.kind as billing.InvoiceLine['kind'],
      ...(row.gpu_class ? { gpuClass: row.gpu_class } : {}),
      quantity: String(row.quantity),
      quantityUnit: row.quantity_unit as billing.InvoiceLine['quantityUnit'],
      ...(row.unit_price_micro_minor !== null
        ? { unitPriceMicroMinor: String(row.unit_price_micro_minor) }
        : {}),
      amountMinor: String(row.amount_minor),
      sourceEventIds: row.source_event_ids,
    }));
  }

  /** A draft's lines are a preview, computed the way finalizing will compute them. */
  private draftLines(row: InvoiceRow): Promise<billing.InvoiceLine[]> {
    return this.billing.reader.draftPreview(this.dataSource, {
      invoiceId: row.invoice_id,
      tenantId: row.tenant_id,
      period: row.period,
    });
  }
}
