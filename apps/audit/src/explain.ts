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

/** A usage correction on the final invoice that a commitment absorbed: no amount changed, the invoice says so. */
export interface AbsorbedCorrection {
  event: LocatedEvent;
  /** Signed: the GPU-time the correction added (+) or removed (-), in milli-GPU-seconds. */
  milliGpuSeconds: string;
  /** The usage corrections it came from. */
  sourceEventIds: string[];
  /** How amounts moved between lines (they sum to zero). */
  lines: { lineId: string; amountMinor: string }[];
}

export interface InvoiceExplanation {
  invoiceNumber: number;
  invoiceId: string;
  tenantId: string;
  period: string;
  status: string;
  totalMinor: string | null;
  /**
   * The InvoiceFinalized event: the lineage of a final invoice holds only what billing had at that position
   * (billing's own events at or before it; the lease events it was priced with).
   */
  finalization?: LocatedEvent;
  /** The invoice's own events (drafted, finalized, credited, corrections absorbed), each with who caused it. */
  history: LocatedEvent[];
  /** Corrections absorbed by a commitment after finalization. */
  absorbedCorrections: AbsorbedCorrection[];
  /**
   * Issue #22: how complete the period's inputs were when it was finalized, and the written reason when
   * finance forced it final while incomplete (from the InvoiceFinalized event).
   */
  completeness?: { coveredUntil: string; complete: boolean; missing: { input: string; detail: string }[] };
  forcedReason?: string;
  lines: ExplainedLine[];
}

const SCHEMAS = ['inventory', 'allocation', 'metering', 'billing'];

async function existingSchemas(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ table_schema: string }[]>(
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
    const [row] = await db.query<Record<string, unknown>[]>(
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
  const rows = await db.query<Record<string, unknown>[]>(
    `SELECT ${EVENT_COLUMNS} FROM ${ident(schema)}.events WHERE payload->>$1 = $2 AND type ILIKE $3 ORDER BY global_position`,
    [field, value, typePattern],
  );
  return rows.map((row: Record<string, unknown>) => toLocated(schema, row));
}

async function samplesOf(db: Queryable, usage: Record<string, unknown>, limit: number) {
  const exists = await db.query<unknown[]>(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = 'metering' AND table_name = 'samples'`,
  );
  if (exists.length === 0 || typeof usage.leaseId !== 'string') return { count: 0, sampleIds: [] };
  const params = [usage.leaseId, usage.gpuClass, usage.hourStart];
  const where = `FROM metering.samples s JOIN metering.usage_windows w ON w.window_id = s.window_id
                 WHERE w.lease_id = $1 AND w.gpu_class = $2 AND w.hour_start = $3::timestamptz`;
  const [{ n }] = await db.query<{ n: number }[]>(`SELECT count(*)::int AS n ${where}`, params);
  const ids = await db.query<{ sample_id: string }[]>(
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
  const [invoice] = await db.query<
    { invoice_id: string; tenant_id: string; period: string; status: string; total: string | null }[]
  >(
    `SELECT invoice_id, tenant_id, period, status, total_minor::text AS total FROM billing.invoices WHERE invoice_number = $1`,
    [invoiceNumber],
  );
  if (!invoice) throw new Error(`no finalized invoice numbered ${invoiceNumber}`);
  const schemas = await existingSchemas(db);
  // The invoice's own events, in log order; a final invoice's lineage stops at its finalization.
  const history = (
    await eventsWhere(db, 'billing', schemas, 'invoiceId', invoice.invoice_id, 'billing.%')
  ).filter((e) => /Invoice|Credit|Correction/.test(e.type));
  const finalization = history.find((e) => e.type === 'billing.InvoiceFinalized');
  const leaseEventIds = finalization?.payload.leaseEventIds as string[] | undefined;
  // Only the invoice's own lines: credit notes (document_id = the note) are corrections after the fact, in history.
  const lines = await db.query<
    {
      line_no: number;
      kind: string;
      gpu_class: string | null;
      lease_id: string;
      quantity: string;
      quantity_unit: string;
      amount: string;
      source_event_ids: string[];
    }[]
  >(
    `SELECT line_no, kind, gpu_class, lease_id, quantity::text AS quantity, quantity_unit, amount_minor::text AS amount, source_event_ids
       FROM billing.invoice_lines WHERE invoice_id = $1 AND document_id = $1 AND ($2::int IS NULL OR line_no = $2) ORDER BY line_no`,
    [invoice.invoice_id, lineNo ?? null],
  );
  if (lineNo !== undefined && lines.length === 0)
    throw new Error(`invoice ${invoiceNumber} has no line ${lineNo}`);

  const explained: ExplainedLine[] = [];
  const leaseEventsOf = new Map<string, LocatedEvent[]>();
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
    let lease = leaseEventsOf.get(line.lease_id);
    if (!lease) {
      lease = await leaseLineage(db, schemas, line.lease_id, finalization, leaseEventIds);
      leaseEventsOf.set(line.lease_id, lease);
    }
    const ratePlanIds = [
      ...new Set(lease.map((e) => e.payload.ratePlanId).filter((id): id is string => typeof id === 'string')),
    ];
    const ratePlan: LocatedEvent[] = [];
    for (const id of ratePlanIds)
      ratePlan.push(
        ...(await eventsWhere(db, 'billing', schemas, 'ratePlanId', id, 'billing.RatePlanPublished')).filter(
          (e) => !finalization || e.globalPosition <= finalization.globalPosition,
        ),
      );
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
  return {
    invoiceNumber,
    invoiceId: invoice.invoice_id,
    finalization,
    history,
    absorbedCorrections: history.filter((e) => e.type === 'billing.CorrectionAbsorbed').map(absorbed),
    ...(finalization?.payload.completeness
      ? { completeness: finalization.payload.completeness as InvoiceExplanation['completeness'] }
      : {}),
    ...(typeof finalization?.payload.forcedReason === 'string'
      ? { forcedReason: finalization.payload.forcedReason }
      : {}),
    tenantId: invoice.tenant_id,
    period: invoice.period,
    status: invoice.status,
    totalMinor: invoice.total,
    lines: explained,
  };
}

/**
 * The lease events behind a line. A final invoice names the lease events it was priced with
 * (`InvoiceFinalized.leaseEventIds`): exactly those. Invoices finalized before that field, and drafts: the lease's
 * own lifecycle events (`allocation.Lease*`, never a workload event that merely names the lease), for a final
 * invoice only those billing had consumed when it was finalized.
 */
async function leaseLineage(
  db: Queryable,
  schemas: string[],
  leaseId: string,
  finalization: LocatedEvent | undefined,
  leaseEventIds: string[] | undefined,
): Promise<LocatedEvent[]> {
  const lifecycle = (
    await eventsWhere(db, 'allocation', schemas, 'leaseId', leaseId, 'allocation.Lease%')
  ).filter((e) => /^allocation\.Lease[A-Z]/.test(e.type));
  if (leaseEventIds) return lifecycle.filter((e) => leaseEventIds.includes(e.eventId));
  if (!finalization || !schemas.includes('billing')) return lifecycle;
  const consumed = await db.query<{ event_id: string }[]>(
    `SELECT event_id::text AS event_id FROM billing.inbox WHERE event_id::text = ANY($1::text[]) AND processed_at <= $2`,
    [lifecycle.map((e) => e.eventId), finalization.recordedAt],
  );
  const before = new Set(consumed.map((row: { event_id: string }) => row.event_id));
  return lifecycle.filter((e) => before.has(e.eventId));
}

function absorbed(event: LocatedEvent): AbsorbedCorrection {
  const payload = event.payload as {
    adjustingCharges: { kind: string; quantity: string }[];
    lines: { lineId: string; amountMinor: string }[];
    sourceEventIds: string[];
  };
  const milli = payload.adjustingCharges
    .filter((charge) => charge.kind === 'gpu-usage')
    .reduce((sum, charge) => sum + BigInt(charge.quantity), 0n);
  return {
    event,
    milliGpuSeconds: milli.toString(),
    sourceEventIds: payload.sourceEventIds,
    lines: payload.lines.map((line) => ({ lineId: line.lineId, amountMinor: line.amountMinor })),
  };
}

/** Milli-GPU-seconds as signed GPU-hours with three decimals, exactly (rounded half away from zero). */
export function formatGpuHours(milliGpuSeconds: bigint): string {
  const negative = milliGpuSeconds < 0n;
  const abs = negative ? -milliGpuSeconds : milliGpuSeconds;
  const thousandths = (abs + 1_800n) / 3_600n; // milli-GPU-seconds / 3,600 = milli-GPU-hours
  const text = `${thousandths / 1000n}.${String(thousandths % 1000n).padStart(3, '0')}`;
  return `${negative ? '-' : '+'}${text}`;
}

/** One event in a line: where it is, what it is, when, and who caused it. */
export interface EventRef {
  service: string;
  globalPosition: number;
  type: string;
  eventId: string;
  recordedAt: string;
  by: string;
}

export interface EventGroupSummary {
  count: number;
  byType: Record<string, number>;
  first?: EventRef;
  last?: EventRef;
}

/** A line as `ExplainedLine` states it, its evidence counted instead of listed. */
export interface LineSummary extends Omit<ExplainedLine, 'sources' | 'lease' | 'ratePlan'> {
  sources: EventGroupSummary & { missing: number };
  placements: number;
  rawSamples: number;
  lease: EventGroupSummary;
  ratePlan: EventGroupSummary;
}

export interface ExplanationSummary {
  invoiceNumber: number;
  invoiceId: string;
  tenantId: string;
  period: string;
  status: string;
  totalMinor: string | null;
  finalization?: EventRef;
  history: EventRef[];
  /** "correction of +X GPU-h absorbed by the commitment", one per absorbed correction. */
  notes: string[];
  /** Issue #22: the written reason when finance forced it final while its inputs were incomplete. */
  forcedReason?: string;
  lines: LineSummary[];
}

const ref = (e: LocatedEvent): EventRef => ({
  service: e.service,
  globalPosition: e.globalPosition,
  type: e.type,
  eventId: e.eventId,
  recordedAt: e.recordedAt,
  by: describePrincipal(e.principal),
});

function group(events: readonly LocatedEvent[]): EventGroupSummary {
  const byType: Record<string, number> = {};
  for (const e of events) byType[e.type] = (byType[e.type] ?? 0) + 1;
  const ordered = [...events].sort(
    (a, b) =>
      a.recordedAt.localeCompare(b.recordedAt) ||
      a.service.localeCompare(b.service) ||
      a.globalPosition - b.globalPosition,
  );
  return {
    count: events.length,
    byType,
    ...(ordered.length > 0 ? { first: ref(ordered[0]), last: ref(ordered[ordered.length - 1]) } : {}),
  };
}

function correctionNote(correction: AbsorbedCorrection): string {
  return `correction of ${formatGpuHours(BigInt(correction.milliGpuSeconds))} GPU-h absorbed by the commitment`;
}

/** Per line: counts, first and last event, totals. What `audit explain` prints unless asked for `--full`. */
export function summarizeExplanation(explanation: InvoiceExplanation): ExplanationSummary {
  return {
    invoiceNumber: explanation.invoiceNumber,
    invoiceId: explanation.invoiceId,
    tenantId: explanation.tenantId,
    period: explanation.period,
    status: explanation.status,
    totalMinor: explanation.totalMinor,
    ...(explanation.finalization ? { finalization: ref(explanation.finalization) } : {}),
    history: explanation.history.map(ref),
    notes: explanation.absorbedCorrections.map(correctionNote),
    ...(explanation.forcedReason ? { forcedReason: explanation.forcedReason } : {}),
    lines: explanation.lines.map((line) => {
      const found = line.sources.flatMap((source) => ('missing' in source.event ? [] : [source.event]));
      return {
        lineNo: line.lineNo,
        kind: line.kind,
        gpuClass: line.gpuClass,
        leaseId: line.leaseId,
        quantity: line.quantity,
        quantityUnit: line.quantityUnit,
        amountMinor: line.amountMinor,
        sources: { ...group(found), missing: line.sources.length - found.length },
        placements: line.sources.reduce((n, source) => n + source.placements.length, 0),
        rawSamples: line.sources.reduce((n, source) => n + source.samples.count, 0),
        lease: group(line.lease),
        ratePlan: group(line.ratePlan),
      };
    }),
  };
}

const describeEvent = (e: LocatedEvent | EventRef) =>
  `${e.service}#${e.globalPosition} ${e.type} ${e.eventId} (stream ${'streamId' in e ? e.streamId : '-'}, recorded ${e.recordedAt}, by ${'by' in e ? e.by : describePrincipal(e.principal)})`;

function header(explanation: InvoiceExplanation, out: string[]) {
  out.push(
    `invoice ${explanation.invoiceNumber} (${explanation.invoiceId}) tenant ${explanation.tenantId} period ${explanation.period} ${explanation.status} total ${explanation.totalMinor ?? '-'} minor units`,
  );
  for (const e of explanation.history) out.push(`  ${e.type.replace('billing.', '')}: ${describeEvent(e)}`);
  if (explanation.forcedReason)
    out.push(
      `  FORCED final while incomplete (${(explanation.completeness?.missing ?? []).map((m) => m.input).join(', ') || 'inputs unknown'} missing; covered until ${explanation.completeness?.coveredUntil ?? '-'}): "${explanation.forcedReason}"`,
    );
  else if (explanation.completeness)
    out.push(`  final on complete inputs (covered until ${explanation.completeness.coveredUntil})`);
  for (const correction of explanation.absorbedCorrections)
    out.push(
      `  note: ${correctionNote(correction)} (${correction.event.service}#${correction.event.globalPosition}, ${correction.sourceEventIds.length} usage correction(s), recorded ${correction.event.recordedAt})`,
    );
}

const lineTitle = (line: {
  lineNo: number;
  kind: string;
  gpuClass: string | null;
  leaseId: string;
  quantity: string;
  quantityUnit: string;
  amountMinor: string;
}) =>
  `  line ${line.lineNo}: ${line.kind}${line.gpuClass ? ` ${line.gpuClass}` : ''} lease ${line.leaseId}: ${line.quantity} ${line.quantityUnit} -> ${line.amountMinor} minor units`;

function describeGroup(name: string, summary: EventGroupSummary, extra = ''): string {
  if (summary.count === 0) return `    ${name}: none${extra}`;
  const types = Object.entries(summary.byType)
    .map(([type, n]) => `${type} x${n}`)
    .join(', ');
  const span =
    summary.count === 1
      ? `: ${summary.first!.service}#${summary.first!.globalPosition} ${summary.first!.eventId} (recorded ${summary.first!.recordedAt}, by ${summary.first!.by})`
      : `, first ${summary.first!.service}#${summary.first!.globalPosition} (recorded ${summary.first!.recordedAt}), last ${summary.last!.service}#${summary.last!.globalPosition} (recorded ${summary.last!.recordedAt})`;
  return `    ${name}: ${summary.count} (${types})${extra}${span}`;
}

/**
 * Text for people. By default one summary per line (counts, first and last event, totals); `full` lists every
 * event id, placement and sample id, as before.
 */
export function formatExplanation(explanation: InvoiceExplanation, options: { full?: boolean } = {}): string {
  const out: string[] = [];
  header(explanation, out);
  if (!options.full) {
    for (const line of summarizeExplanation(explanation).lines) {
      out.push(lineTitle(line));
      out.push(
        describeGroup(
          'sources',
          line.sources,
          `${line.sources.missing > 0 ? `, ${line.sources.missing} NOT FOUND in any log` : ''}; behind them ${line.placements} placements, ${line.rawSamples} raw samples`,
        ),
      );
      out.push(describeGroup('lease events', line.lease));
      out.push(describeGroup('rate plan versions', line.ratePlan));
    }
    out.push(
      '  (--full lists every event id; --json prints this summary for machines, --json --full everything)',
    );
    return out.join('\n');
  }
  for (const line of explanation.lines) {
    out.push(lineTitle(line));
    for (const source of line.sources) {
      if ('missing' in source.event) {
        out.push(`    source ${source.event.eventId}: NOT FOUND in any log`);
        continue;
      }
      out.push(`    source ${describeEvent(source.event)}`);
      for (const placement of source.placements) out.push(`      placement ${describeEvent(placement)}`);
      if (source.samples.count > 0)
        out.push(
          `      ${source.samples.count} raw samples: ${source.samples.sampleIds.join(', ')}${source.samples.count > source.samples.sampleIds.length ? ', ...' : ''}`,
        );
    }
    for (const e of line.lease) out.push(`    lease ${describeEvent(e)}`);
    for (const e of line.ratePlan) out.push(`    rate plan ${describeEvent(e)}`);
  }
  return out.join('\n');
}
