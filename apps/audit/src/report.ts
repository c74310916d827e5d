import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Queryable } from '@fleetledger/eventstore';

/** One month's audit report: HTML with charts (inline SVG, no scripts) and CSV extracts. */
export interface ReportFigures {
  period: string;
  usageByClass: {
    gpuClass: string;
    gpuHoursAllocated: string;
    gpuHoursBusy: string;
    energyKwh: string;
    records: number;
  }[];
  utilizationByDay: { day: string; gpuClass: string; utilizationPct: number }[];
  revenueByClass: { gpuClass: string; currency: string; amountMinor: string; exponent: number }[];
  invoices: {
    invoiceNumber: number | null;
    tenantId: string;
    status: string;
    currency: string;
    totalMinor: string;
    exponent: number;
  }[];
  /** Who finalized or credited each invoice of the period (from the principal each billing event records). */
  invoiceSteps: { invoiceId: string; step: string; by: string; roles: string; recordedAt: string }[];
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function periodBounds(period: string): { from: string; to: string } {
  const match = PERIOD.exec(period);
  if (!match) throw new Error(`--period must be YYYY-MM, got ${period}`);
  const year = Number(match[1]);
  const month = Number(match[2]);
  const to = month === 12 ? `${year + 1}-01` : `${year}-${String(month + 1).padStart(2, '0')}`;
  return { from: `${period}-01T00:00:00Z`, to: `${to}-01T00:00:00Z` };
}

async function tableExists(db: Queryable, schema: string, table: string): Promise<boolean> {
  const rows = await db.query<unknown[]>(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`,
    [schema, table],
  );
  return rows.length > 0;
}

/** Reads the month's figures from the metering and billing projections (missing tables give empty sections). */
export async function collectFigures(db: Queryable, period: string): Promise<ReportFigures> {
  const { from, to } = periodBounds(period);
  const figures: ReportFigures = {
    period,
    usageByClass: [],
    utilizationByDay: [],
    revenueByClass: [],
    invoices: [],
    invoiceSteps: [],
  };
  if (await tableExists(db, 'metering', 'usage_by_record')) {
    figures.usageByClass = (
      await db.query<Record<string, string>[]>(
        `SELECT gpu_class, count(*)::int AS records,
                round(sum(gpu_ms_allocated) / 3600000.0, 3)::text AS allocated,
                round(sum(busy_ms) / 3600000.0, 3)::text AS busy,
                round(sum(energy_mwh) / 1000000.0, 3)::text AS energy
           FROM metering.usage_by_record WHERE hour_start >= $1 AND hour_start < $2
          GROUP BY gpu_class ORDER BY gpu_class`,
        [from, to],
      )
    ).map((r: Record<string, string>) => ({
      gpuClass: r.gpu_class,
      gpuHoursAllocated: r.allocated,
      gpuHoursBusy: r.busy,
      energyKwh: r.energy,
      records: Number(r.records),
    }));
  }
  if (await tableExists(db, 'metering', 'cluster_utilization_hourly')) {
    figures.utilizationByDay = (
      await db.query<Record<string, string>[]>(
        `SELECT to_char(date_trunc('day', hour_start AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, gpu_class,
                CASE WHEN sum(gpu_ms_allocated) = 0 THEN 0 ELSE round(100.0 * sum(busy_ms) / sum(gpu_ms_allocated), 1) END AS pct
           FROM metering.cluster_utilization_hourly WHERE hour_start >= $1 AND hour_start < $2
          GROUP BY 1, 2 ORDER BY 1, 2`,
        [from, to],
      )
    ).map((r: Record<string, string>) => ({
      day: r.day,
      gpuClass: r.gpu_class,
      utilizationPct: Number(r.pct),
    }));
  }
  if (await tableExists(db, 'billing', 'invoices')) {
    figures.invoices = (
      await db.query<Record<string, string | number | null>[]>(
        `SELECT invoice_number, tenant_id, status, currency_code, currency_exponent, coalesce(total_minor, 0)::text AS total
           FROM billing.invoices WHERE period = $1 ORDER BY invoice_number NULLS LAST, invoice_id`,
        [period],
      )
    ).map((r: Record<string, string | number | null>) => ({
      invoiceNumber: r.invoice_number === null ? null : Number(r.invoice_number),
      tenantId: String(r.tenant_id),
      status: String(r.status),
      currency: String(r.currency_code),
      totalMinor: String(r.total),
      exponent: Number(r.currency_exponent),
    }));
    figures.invoiceSteps = (
      await db.query<Record<string, string | Date>[]>(
        `SELECT e.payload->>'invoiceId' AS invoice_id, e.type, e.recorded_at,
                coalesce(e.metadata->'principal'->>'subject', '(none)') AS subject,
                coalesce((SELECT string_agg(r, ',') FROM jsonb_array_elements_text(e.metadata->'principal'->'roles') r), '') AS roles
           FROM billing.events e
          WHERE e.type IN ('billing.InvoiceFinalized', 'billing.CreditNoteIssued')
            AND e.payload->>'invoiceId' IN (SELECT invoice_id FROM billing.invoices WHERE period = $1)
          ORDER BY e.global_position`,
        [period],
      )
    ).map((r: Record<string, string | Date>) => ({
      invoiceId: String(r.invoice_id),
      step: String(r.type).replace('billing.', ''),
      by: String(r.subject),
      roles: String(r.roles),
      recordedAt: (r.recorded_at as Date).toISOString(),
    }));
    figures.revenueByClass = (
      await db.query<Record<string, string>[]>(
        `SELECT coalesce(l.gpu_class, l.kind) AS gpu_class, i.currency_code, i.currency_exponent, sum(l.amount_minor)::text AS amount
           FROM billing.invoice_lines l JOIN billing.invoices i ON i.invoice_id = l.invoice_id
          WHERE i.period = $1 GROUP BY 1, 2, 3 ORDER BY 1`,
        [period],
      )
    ).map((r: Record<string, string>) => ({
      gpuClass: r.gpu_class,
      currency: r.currency_code,
      amountMinor: r.amount,
      exponent: Number(r.currency_exponent),
    }));
  }
  return figures;
}

/** Minor units to a decimal string, exactly (no floating point): 123456, 2 -> "1234.56". */
export function formatMinor(amountMinor: string, exponent: number): string {
  const value = BigInt(amountMinor);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

export function toCsv(header: string[], rows: (string | number | null)[][]): string {
  const cell = (v: string | number | null) => {
    const text = v === null ? '' : String(v);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [header, ...rows].map((row) => row.map(cell).join(',')).join('\n') + '\n';
}

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** A horizontal bar chart as inline SVG. */
export function barChart(
  title: string,
  bars: { label: string; value: number; text: string }[],
  id: string,
): string {
  const width = 640;
  const rowHeight = 28;
  const labelWidth = 150;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const height = Math.max(bars.length, 1) * rowHeight + 40;
  const rows = bars
    .map((bar, i) => {
      const y = 30 + i * rowHeight;
      const w = Math.round(((width - labelWidth - 120) * bar.value) / max);
      return `<text x="0" y="${y + 17}" font-size="13">${escapeHtml(bar.label)}</text>
<rect x="${labelWidth}" y="${y}" width="${w}" height="${rowHeight - 8}" fill="#2f6fb0"></rect>
<text x="${labelWidth + w + 6}" y="${y + 17}" font-size="12">${escapeHtml(bar.text)}</text>`;
    })
    .join('\n');
  const empty =
    bars.length === 0 ? `<text x="0" y="50" font-size="13" fill="#888">no data for this period</text>` : '';
  return `<figure><svg id="${id}" class="chart" role="img" aria-label="${escapeHtml(title)}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">
<text x="0" y="16" font-size="15" font-weight="bold">${escapeHtml(title)}</text>
${rows}${empty}</svg></figure>`;
}

export function renderHtml(figures: ReportFigures, generatedAt: string): string {
  const utilizationByClass = new Map<string, number[]>();
  for (const row of figures.utilizationByDay)
    utilizationByClass.set(row.gpuClass, [
      ...(utilizationByClass.get(row.gpuClass) ?? []),
      row.utilizationPct,
    ]);
  const table = (header: string[], rows: string[][]) =>
    `<table><thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
      .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
      .join('')}</tbody></table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FleetLedger audit report ${escapeHtml(figures.period)}</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f0f0f0}figure{margin:1.5em 0}</style></head>
<body>
<h1>FleetLedger audit report: ${escapeHtml(figures.period)}</h1>
<p>Generated ${escapeHtml(generatedAt)} from the metering and billing projections. Figures are exact decimals; money in the invoice currency.</p>
<h2>Usage by GPU class</h2>
${barChart(
  'GPU-hours allocated by class',
  figures.usageByClass.map((u) => ({
    label: u.gpuClass,
    value: Number(u.gpuHoursAllocated),
    text: `${u.gpuHoursAllocated} GPU-h`,
  })),
  'chart-usage',
)}
${table(
  ['GPU class', 'GPU-hours allocated', 'GPU-hours busy', 'energy kWh', 'usage records'],
  figures.usageByClass.map((u) => [
    u.gpuClass,
    u.gpuHoursAllocated,
    u.gpuHoursBusy,
    u.energyKwh,
    String(u.records),
  ]),
)}
<h2>Utilization (busy / allocated)</h2>
${barChart(
  'Average daily utilization by class, %',
  [...utilizationByClass].map(([gpuClass, days]) => {
    const avg = Math.round((10 * days.reduce((a, b) => a + b, 0)) / days.length) / 10;
    return { label: gpuClass, value: avg, text: `${avg}%` };
  }),
  'chart-utilization',
)}
<h2>Revenue by class</h2>
${barChart(
  'Invoiced amount by class or charge kind',
  figures.revenueByClass.map((r) => ({
    label: r.gpuClass,
    value: Number(formatMinor(r.amountMinor, r.exponent)),
    text: `${formatMinor(r.amountMinor, r.exponent)} ${r.currency}`,
  })),
  'chart-revenue',
)}
<h2>Invoices</h2>
${table(
  ['number', 'tenant', 'status', 'total', 'currency'],
  figures.invoices.map((i) => [
    i.invoiceNumber === null ? '(draft)' : String(i.invoiceNumber),
    i.tenantId,
    i.status,
    formatMinor(i.totalMinor, i.exponent),
    i.currency,
  ]),
)}
<h2>Who finalized and credited</h2>
${table(
  ['invoice', 'step', 'by', 'roles', 'recorded'],
  figures.invoiceSteps.map((step) => [step.invoiceId, step.step, step.by, step.roles, step.recordedAt]),
)}
</body></html>
`;
}

/** Writes index.html and the CSV extracts into `outDir`; returns the files written. */
export async function writeReport(
  db: Queryable,
  period: string,
  outDir: string,
  generatedAt: string,
): Promise<string[]> {
  const figures = await collectFigures(db, period);
  mkdirSync(outDir, { recursive: true });
  const files: [string, string][] = [
    ['index.html', renderHtml(figures, generatedAt)],
    [
      'usage-by-class.csv',
      toCsv(
        ['gpu_class', 'gpu_hours_allocated', 'gpu_hours_busy', 'energy_kwh', 'records'],
        figures.usageByClass.map((u) => [
          u.gpuClass,
          u.gpuHoursAllocated,
          u.gpuHoursBusy,
          u.energyKwh,
          u.records,
        ]),
      ),
    ],
    [
      'utilization-by-day.csv',
      toCsv(
        ['day', 'gpu_class', 'utilization_pct'],
        figures.utilizationByDay.map((u) => [u.day, u.gpuClass, u.utilizationPct]),
      ),
    ],
    [
      'revenue-by-class.csv',
      toCsv(
        ['class_or_kind', 'currency', 'amount'],
        figures.revenueByClass.map((r) => [r.gpuClass, r.currency, formatMinor(r.amountMinor, r.exponent)]),
      ),
    ],
    [
      'invoices.csv',
      toCsv(
        ['invoice_number', 'tenant_id', 'status', 'currency', 'total'],
        figures.invoices.map((i) => [
          i.invoiceNumber,
          i.tenantId,
          i.status,
          i.currency,
          formatMinor(i.totalMinor, i.exponent),
        ]),
      ),
    ],
  ];
  for (const [name, content] of files) writeFileSync(path.join(outDir, name), content);
  return files.map(([name]) => path.join(outDir, name));
}
