import { DataSource } from 'typeorm';
import {
  compareProjection,
  EventStore,
  ident,
  Projection,
  rebuildProjections,
  ReplayProgress,
  TableComparison,
} from '@fleetledger/eventstore';
import type { ServiceOptions } from '@fleetledger/platform';
import { BillingContextReader } from '../../billing/src/queries/billing-context';

export interface ReplayOptions {
  asOf?: string;
  resume?: boolean;
  batchSize?: number;
  onProgress?: (service: string, progress: ReplayProgress) => void;
}

export interface ReplayResult {
  service: string;
  projection: string;
  targetSchema: string;
  eventsApplied: number;
  durationMs: number;
}

/** The schema a service's projections are replayed into. */
export function replaySchema(service: ServiceOptions): string {
  return `${service.schema}_replay`;
}

/**
 * Rebuilds every projection of the given services from position 0 (or as of a time) into `<schema>_replay`.
 * Projections that read the same source (the service's log, or one consumer's inbox) are rebuilt in one pass.
 */
export async function replayServices(
  dataSource: DataSource,
  services: ServiceOptions[],
  options: ReplayOptions = {},
): Promise<ReplayResult[]> {
  const results: ReplayResult[] = [];
  for (const service of services) {
    const store = new EventStore(service.schema, service.registry);
    const bySource = new Map<string, Projection[]>();
    for (const projection of service.projections ?? []) {
      const key = JSON.stringify(projection.source);
      bySource.set(key, [...(bySource.get(key) ?? []), projection]);
    }
    for (const projections of bySource.values()) {
      const started = Date.now();
      const result = await rebuildProjections(dataSource, store, projections, {
        targetSchema: replaySchema(service),
        recordedUntil: options.asOf,
        resume: options.resume,
        batchSize: options.batchSize,
        onProgress: (progress) => options.onProgress?.(service.service, progress),
      });
      results.push({
        service: service.service,
        projection: projections.map((p) => p.name).join('+'),
        targetSchema: result.targetSchema,
        eventsApplied: result.eventsApplied,
        durationMs: Date.now() - started,
      });
    }
  }
  return results;
}

export interface RowDifference {
  table: string;
  side: 'only-live' | 'only-replayed';
  row: Record<string, unknown>;
}

export interface ReconcileResult {
  service: string;
  projection: string;
  tables: TableComparison[];
  differences: RowDifference[];
}

/** Compares each replayed projection with the live one, table by table, and lists differing rows. */
export async function reconcileServices(
  dataSource: DataSource,
  services: ServiceOptions[],
  rowLimit = 50,
): Promise<ReconcileResult[]> {
  const results: ReconcileResult[] = [];
  for (const service of services) {
    for (const projection of service.projections ?? []) {
      const tables = await compareProjection(dataSource, projection, service.schema, replaySchema(service));
      const differences: RowDifference[] = [];
      for (const table of tables.filter((t) => !t.equal)) {
        const live = `${ident(service.schema)}.${ident(table.table)}`;
        const replayed = `${ident(replaySchema(service))}.${ident(table.table)}`;
        for (const [side, a, b] of [
          ['only-live', live, replayed],
          ['only-replayed', replayed, live],
        ] as const) {
          const rows = await dataSource.query(
            `SELECT * FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b}) d LIMIT ${rowLimit}`,
          );
          for (const row of rows) differences.push({ table: table.table, side, row });
        }
      }
      results.push({ service: service.service, projection: projection.name, tables, differences });
    }
  }
  return results;
}

export interface InvoiceTotal {
  invoiceId: string;
  invoiceNumber: number | null;
  tenantId: string;
  period: string;
  status: string;
  /** A final invoice's stored total, or a draft's preview: what finalizing it then would have billed. */
  totalMinor: string | null;
  totalKind: 'final' | 'preview';
}

/**
 * Invoice totals as a billing schema (live or replayed) has them, optionally for one period. A draft has no
 * stored total: its preview is composed from that schema's charges, leases, plans and fleet health with
 * billing's own code, exactly as the service's API shows a draft.
 */
export async function invoiceTotals(
  dataSource: DataSource,
  schema: string,
  period?: string,
): Promise<InvoiceTotal[]> {
  const exists = await dataSource.query(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'invoices'`,
    [schema],
  );
  if (exists.length === 0) return [];
  const rows = await dataSource.query(
    `SELECT invoice_id, invoice_number, tenant_id, period, status, total_minor::text AS total
       FROM ${ident(schema)}.invoices WHERE ($1::text IS NULL OR period = $1) ORDER BY invoice_id`,
    [period ?? null],
  );
  const reader = new BillingContextReader(schema);
  const totals: InvoiceTotal[] = [];
  for (const r of rows as Record<string, unknown>[]) {
    const invoice = {
      invoiceId: String(r.invoice_id),
      invoiceNumber: r.invoice_number === null ? null : Number(r.invoice_number),
      tenantId: String(r.tenant_id),
      period: String(r.period),
      status: String(r.status),
    };
    if (r.total !== null) {
      totals.push({ ...invoice, totalMinor: String(r.total), totalKind: 'final' });
      continue;
    }
    const lines = await reader.draftPreview(dataSource, invoice);
    const total = lines.reduce((sum, line) => sum + BigInt(line.amountMinor), 0n);
    totals.push({ ...invoice, totalMinor: total.toString(), totalKind: 'preview' });
  }
  return totals;
}

export interface InvoiceTotalDifference {
  invoiceId: string;
  live: InvoiceTotal | null;
  replayed: InvoiceTotal | null;
}

/** Invoices whose status, number or total differ between two billing schemas (live and replayed). */
export function diffInvoiceTotals(
  live: readonly InvoiceTotal[],
  replayed: readonly InvoiceTotal[],
): InvoiceTotalDifference[] {
  const key = (t: InvoiceTotal) => `${t.status}|${t.invoiceNumber}|${t.totalMinor}`;
  const byId = new Map(replayed.map((t) => [t.invoiceId, t]));
  const differences: InvoiceTotalDifference[] = [];
  for (const l of live) {
    const r = byId.get(l.invoiceId) ?? null;
    byId.delete(l.invoiceId);
    if (!r || key(l) !== key(r)) differences.push({ invoiceId: l.invoiceId, live: l, replayed: r });
  }
  for (const r of byId.values()) differences.push({ invoiceId: r.invoiceId, live: null, replayed: r });
  return differences;
}
