import { describePrincipal, Principal } from '@fleetledger/contracts';
import { ident, Queryable } from '@fleetledger/eventstore';

/** An event found in one service's log. */
export interface LocatedEvent {
  service: string;
  eventId: string;
  type: string;
  streamId: string;
  globalPosition: number;
  recordedAt: string;
  /** Who caused it (absent on events recorded before principals were). */
  principal?: Principal;
  payload: Record<string, unknown>;
}

export interface ExplainedSource {
  event: LocatedEvent | { eventId: string; missing: true };
  placements: LocatedEvent[];
  samples: { count: number; sampleIds: string[] };
}

export interface ExplainedLine {
  lineNo: number;
  kind: string;
  gpuClass: string | null;
  leaseId: string;
  quantity: string;
  quantityUnit: string;
  amountMinor: string;
  sources: ExplainedSource[];
  lease: LocatedEvent[];
  ratePlan: LocatedEvent[];
}

export interface InvoiceExplanation {
  invoiceNumber: number;
  invoiceId: string;
  tenantId: string;
  period: string;
  status: string;
  totalMinor: string | null;
  /** The invoice's own events (drafted, finalized, credited), each with who caused it. */
  history: LocatedEvent[];
  lines: ExplainedLine[];
}

const SCHEMAS = ['inventory', 'allocation', 'metering', 'billing'];

async function existingSchemas(db: Queryable): Promise<string[]> {
  const rows = await db.query(
    `SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' AND table_schema = ANY($1::text[])`,
    [SCHEMAS],
  );
  return SCHEMAS.filter((s) => rows.some((r: { table_schema: string }) => r.table_schema === s));
}

function toLocated(service: string, row: Record<string, unknown>): LocatedEvent {
  return {
    service,
    eventId: String(row.event_id),
    type: String(row.type),
    streamId: String(row.stream_id),
    globalPosition: Number(row.global_position),
    recordedAt: (row.recorded_at as Date).toISOString(),
    ...(row.principal ? { principal: row.principal as Principal } : {}),
    payload: row.payload as Record<string, unknown>,
  };
}

const EVENT_COLUMNS =
  "event_id, type, stream_id, global_position, recorded_at, payload, metadata->'principal' AS principal";

/** Finds an event by id in whichever service's log recorded it. */
export async function locateEvent(
  db: Queryable,
  schemas: string[],
  eventId: string,
): Promise<LocatedEvent | undefined> {
  for (const schema of schemas) {
    const [row] = await db.query(
      `SELECT ${EVENT_COLUMNS} FROM ${ident(schema)}.events WHERE event_id::text = $1`,
      [eventId],
    );
    if (row) return toLocated(schema, row);
  }
  return undefined;
}

async function eventsWhere(
  db: Queryable,
  schema: string,
  schemas: string[],
  field: string,
  value: string,
  typePattern: string,
): Promise<LocatedEvent[]> {
  if (!schemas.includes(schema)) return [];
  const rows = await db.query(
    `SELECT ${EVENT_COLUMNS} FROM ${ident(schema)}.events WHERE payload->>$1 = $2 AND type ILIKE $3 ORDER BY global_position`,
    [field, value, typePattern],
  );
  return rows.map((row: Record<string, unknown>) => toLocated(schema, row));
}

async function samplesOf(db: Queryable, usage: Record<string, unknown>, limit: number) {
  const exists = await db.query(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = 'metering' AND table_name = 'samples'`,
  );
  if (exists.length === 0 || typeof usage.leaseId !== 'string') return { count: 0, sampleIds: [] };
  const params = [usage.leaseId, usage.gpuClass, usage.hourStart];
  const where = `FROM metering.samples s JOIN metering.usage_windows w ON w.window_id = s.window_id
                 WHERE w.lease_id = $1 AND w.gpu_class = $2 AND w.hour_start = $3::timestamptz`;
  const [{ n }] = await db.query(`SELECT count(*)::int AS n ${where}`, params);
  const ids = await db.query(
    `SELECT s.sample_id ${where} ORDER BY s.sampled_at, s.sample_id LIMIT ${limit}`,
    params,
  );
  return { count: n, sampleIds: ids.map((r: { sample_id: string }) => r.sample_id) };
}

/**
 * The chain behind an invoice: each line, the usage (or other) events it was computed from, the
 * placements and raw samples behind that usage, and the lease and rate-plan events that priced it.
 */
export async function explainInvoice(
  db: Queryable,
  invoiceNumber: number,
  lineNo?: number,
  sampleLimit = 20,
): Promise<InvoiceExplanation> {
  const [invoice] = await db.query(
    `SELECT invoice_id, tenant_id, period, status, total_minor::text AS total FROM billing.invoices WHERE invoice_number = $1`,
    [invoiceNumber],
  );
  if (!invoice) throw new Error(`no finalized invoice numbered ${invoiceNumber}`);
  const schemas = await existingSchemas(db);
  const lines = await db.query(
    `SELECT line_no, kind, gpu_class, lease_id, quantity::text AS quantity, quantity_unit, amount_minor::text AS amount, source_event_ids
       FROM billing.invoice_lines WHERE invoice_id = $1 AND ($2::int IS NULL OR line_no = $2) ORDER BY line_no`,
    [invoice.invoice_id, lineNo ?? null],
  );
  if (lineNo !== undefined && lines.length === 0)
    throw new Error(`invoice ${invoiceNumber} has no line ${lineNo}`);

  const explained: ExplainedLine[] = [];
  for (const line of lines) {
    const sources: ExplainedSource[] = [];
    for (const eventId of line.source_event_ids as string[]) {
      const event = await locateEvent(db, schemas, eventId);
      if (!event) {
        sources.push({
          event: { eventId, missing: true },
          placements: [],
          samples: { count: 0, sampleIds: [] },
        });
        continue;
      }
      const placementIds = (
        (event.payload.sources as { placementEventIds?: string[] } | undefined)?.placementEventIds ?? []
      ).slice(0, 50);
      const placements: LocatedEvent[] = [];
      for (const id of placementIds) {
        const placement = await locateEvent(db, schemas, id);
        if (placement) placements.push(placement);
      }
      const samples = event.type.endsWith('UsageRecorded')
        ? await samplesOf(db, event.payload, sampleLimit)
        : { count: 0, sampleIds: [] };
      sources.push({ event, placements, samples });
    }
    const lease: LocatedEvent[] = await eventsWhere(
      db,
      'allocation',
      schemas,
      'leaseId',
      line.lease_id,
      '%Lease%',
    );
    const ratePlanIds = [
      ...new Set(lease.map((e) => e.payload.ratePlanId).filter((id): id is string => typeof id === 'string')),
    ];
    const ratePlan: LocatedEvent[] = [];
    for (const id of ratePlanIds)
      ratePlan.push(...(await eventsWhere(db, 'billing', schemas, 'ratePlanId', id, '%RatePlan%')));
    explained.push({
      lineNo: line.line_no,
      kind: line.kind,
      gpuClass: line.gpu_class,
      leaseId: line.lease_id,
      quantity: line.quantity,
      quantityUnit: line.quantity_unit,
      amountMinor: line.amount,
      sources,
      lease,
      ratePlan,
    });
  }
  const history = (
    await eventsWhere(db, 'billing', schemas, 'invoiceId', invoice.invoice_id, 'billing.%')
  ).filter((e) => /Invoice|Credit/.test(e.type));
  return {
    invoiceNumber,
    invoiceId: invoice.invoice_id,
    history,
    tenantId: invoice.tenant_id,
    period: invoice.period,
    status: invoice.status,
    totalMinor: invoice.total,
    lines: explained,
  };
}

export function formatExplanation(explanation: InvoiceExplanation): string {
  const out: string[] = [];
  const ev = (e: LocatedEvent) =>
    `${e.service}#${e.globalPosition} ${e.type} ${e.eventId} (stream ${e.streamId}, recorded ${e.recordedAt}, by ${describePrincipal(e.principal)})`;
  out.push(
    `invoice ${explanation.invoiceNumber} (${explanation.invoiceId}) tenant ${explanation.tenantId} period ${explanation.period} ${explanation.status} total ${explanation.totalMinor ?? '-'} minor units`,
  );
  for (const e of explanation.history) out.push(`  ${e.type.replace('billing.', '')}: ${ev(e)}`);
  for (const line of explanation.lines) {
    out.push(
      `  line ${line.lineNo}: ${line.kind}${line.gpuClass ? ` ${line.gpuClass}` : ''} lease ${line.leaseId}: ${line.quantity} ${line.quantityUnit} -> ${line.amountMinor} minor units`,
    );
    for (const source of line.sources) {
      if ('missing' in source.event) {
        out.push(`    source ${source.event.eventId}: NOT FOUND in any log`);
        continue;
      }
      out.push(`    source ${ev(source.event)}`);
      for (const placement of source.placements) out.push(`      placement ${ev(placement)}`);
      if (source.samples.count > 0)
        out.push(
          `      ${source.samples.count} raw samples: ${source.samples.sampleIds.join(', ')}${source.samples.count > source.samples.sampleIds.length ? ', ...' : ''}`,
        );
    }
    for (const e of line.lease) out.push(`    lease ${ev(e)}`);
    for (const e of line.ratePlan) out.push(`    rate plan ${ev(e)}`);
  }
  return out.join('\n');
}
