import { barChart, escapeHtml, formatMinor } from './report';

/**
 * The Colossus month report (npm run colossus): what the platform did over a simulated month of the deal,
 * as a single HTML page (inline SVG, no scripts). Every section names where its figures came from: the
 * service, the API or projection, and the events behind it. Pure: the caller collects the figures.
 */
export interface ColossusReportFigures {
  period: string;
  generatedAt: string;
  run: {
    days: number;
    gpus: number;
    seed: number;
    speed: string;
    startAt: string;
    endAt: string;
    dealAt: string;
    sampleIntervalSeconds: number;
    samplingFactor: number;
    loadAverage: string;
  };
  fleet: { gpuClass: string; gpus: number }[];
  halls: number;
  racks: number;
  /** Per class and hour: allocated / healthy (metering), with the plan's ramp at that hour. */
  utilization: { gpuClass: string; hourStart: string; allocatedShare: number | null; ramp: number }[];
  /** Placements per workload class and GPU class, first choice or fallback. */
  routing: { workloadClass: string; gpuClass: string; firstChoice: number; fallback: number }[];
  latency: {
    count: number;
    p50Ms: number;
    p90Ms: number;
    p99Ms: number;
    maxMs: number;
    placementsPerSecond: number;
  };
  /** Queued and rejected decisions by reason (and workload class). */
  decisions: { outcome: string; reason: string; workloadClass: string; count: number }[];
  quotaChanges: {
    at: string;
    key: string;
    previous: number;
    nominal: number;
    change: string;
    reason: string;
  }[];
  incidents: { at: string; kind: string; target: string; evicted: number }[];
  /** Per hall: budget and the least headroom seen at any reading, and the draw then. */
  power: {
    hallId: string;
    budgetW: number | null;
    minHeadroomW: number | null;
    drawAtMinW: number;
    readings: number;
  }[];
  invoice: {
    invoiceId: string;
    invoiceNumber: number | null;
    status: string;
    totalMinor: string;
    currency: string;
    exponent: number;
    lines: { kind: string; gpuClass: string; quantity: string; unit: string; amountMinor: string }[];
  };
  scale: {
    phases: { name: string; seconds: number }[];
    samples: { sent: number; accepted: number; perSecond: number };
    eventsByService: { service: string; events: number }[];
    schemaBytes: { schema: string; bytes: number }[];
    peakRssBytes: { service: string; bytes: number }[];
    kafkaRecordsPublished: number | null;
  };
  audit: { command: string; exitCode: number; summary: string }[];
}

const CLASS_COLOURS: Record<string, string> = { H100: '#2f6fb0', H200: '#c0392b', GB200: '#27ae60' };

function table(header: string[], rows: string[][], id?: string): string {
  return `<table${id ? ` id="${id}"` : ''}><thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function source(text: string): string {
  return `<p class="source"><b>Source:</b> ${escapeHtml(text)}</p>`;
}

const pct = (share: number | null) => (share === null ? 'n/a' : `${(share * 100).toFixed(1)}%`);
const mw = (watts: number | null) => (watts === null ? 'n/a' : `${(watts / 1_000_000).toFixed(3)} MW`);

/**
 * Utilization per class over the month (allocated share of healthy GPUs, hour by hour) against the
 * 40% -> 85% ramp, as an SVG line chart: one line per class, the ramp dashed.
 */
export function utilizationChart(rows: ColossusReportFigures['utilization'], id: string): string {
  const width = 760;
  const height = 300;
  const left = 40;
  const top = 30;
  const plotW = width - left - 120;
  const plotH = height - top - 30;
  const hours = [...new Set(rows.map((r) => r.hourStart))].sort();
  const x = (hour: string) =>
    left + (hours.length <= 1 ? 0 : (plotW * hours.indexOf(hour)) / (hours.length - 1));
  const y = (share: number) => top + plotH - plotH * Math.min(Math.max(share, 0), 1);
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (g) =>
        `<line x1="${left}" x2="${left + plotW}" y1="${y(g)}" y2="${y(g)}" stroke="#ddd"></line><text x="0" y="${y(g) + 4}" font-size="11">${g * 100}%</text>`,
    )
    .join('');
  const classes = [...new Set(rows.map((r) => r.gpuClass))].sort();
  const lines = classes
    .map((gpuClass, i) => {
      const points = rows
        .filter((r) => r.gpuClass === gpuClass && r.allocatedShare !== null)
        .map((r) => `${x(r.hourStart).toFixed(1)},${y(r.allocatedShare!).toFixed(1)}`)
        .join(' ');
      const colour = CLASS_COLOURS[gpuClass] ?? '#555';
      return `<polyline class="series" data-class="${escapeHtml(gpuClass)}" fill="none" stroke="${colour}" stroke-width="1.5" points="${points}"></polyline>
<text x="${left + plotW + 10}" y="${top + 16 + i * 18}" font-size="12" fill="${colour}">${escapeHtml(gpuClass)}</text>`;
    })
    .join('\n');
  const rampByHour = new Map(rows.map((r) => [r.hourStart, r.ramp]));
  const ramp = hours.map((h) => `${x(h).toFixed(1)},${y(rampByHour.get(h)!).toFixed(1)}`).join(' ');
  const empty =
    hours.length === 0
      ? `<text x="${left}" y="${top + 40}" font-size="13" fill="#888">no usage records</text>`
      : '';
  return `<figure><svg id="${id}" class="chart" role="img" aria-label="Utilization per class against the ramp" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">
<text x="0" y="16" font-size="15" font-weight="bold">Allocated share of healthy GPUs per class, hour by hour, against the 40% -&gt; 85% ramp</text>
${grid}
<polyline class="ramp" fill="none" stroke="#000" stroke-dasharray="6 4" stroke-width="1.5" points="${ramp}"></polyline>
<text x="${left + plotW + 10}" y="${top + 16 + classes.length * 18}" font-size="12">ramp (dashed)</text>
${lines}${empty}</svg></figure>`;
}

/** Mean of the hourly shares per class and day, next to the ramp at the day's middle. */
export function dailyUtilization(rows: ColossusReportFigures['utilization']) {
  const byKey = new Map<string, { shares: number[]; ramps: number[] }>();
  for (const r of rows) {
    if (r.allocatedShare === null) continue;
    const key = `${r.hourStart.slice(0, 10)}|${r.gpuClass}`;
    const entry = byKey.get(key) ?? { shares: [], ramps: [] };
    entry.shares.push(r.allocatedShare);
    entry.ramps.push(r.ramp);
    byKey.set(key, entry);
  }
  return [...byKey]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, e]) => {
      const [day, gpuClass] = key.split('|');
      const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
      return { day, gpuClass, share: mean(e.shares), ramp: mean(e.ramps) };
    });
}

export function renderColossusReport(f: ColossusReportFigures): string {
  const inv = f.invoice;
  const money = (minor: string) => `${formatMinor(minor, inv.exponent)} ${inv.currency}`;
  const totalGpus = f.fleet.reduce((n, c) => n + c.gpus, 0);
  const rejectionsByReason = new Map<string, number>();
  for (const d of f.decisions)
    rejectionsByReason.set(
      `${d.outcome}: ${d.reason}`,
      (rejectionsByReason.get(`${d.outcome}: ${d.reason}`) ?? 0) + d.count,
    );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>The Colossus month: ${escapeHtml(f.period)}</title>
<style>body{font-family:sans-serif;margin:2em;color:#222;max-width:1000px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f0f0f0}figure{margin:1.5em 0}.source{color:#555;font-size:90%}.note{background:#fff8e0;padding:6px 10px}</style></head>
<body>
<h1>The Colossus month: ${escapeHtml(f.period)}</h1>
<p>Generated ${escapeHtml(f.generatedAt)}. ${f.run.days} simulated days from ${escapeHtml(f.run.startAt)} to ${escapeHtml(f.run.endAt)}, seed ${f.run.seed}, speed ${escapeHtml(f.run.speed)}; deal day at ${escapeHtml(f.run.dealAt)}.
Fleet: ${totalGpus.toLocaleString('en-US')} GPUs (${f.fleet.map((c) => `${escapeHtml(c.gpuClass)} ${c.gpus.toLocaleString('en-US')}`).join(', ')}) in ${f.halls} halls and ${f.racks} racks, one exclusive whole-cluster lease. Load average during the run: ${escapeHtml(f.run.loadAverage)}.</p>
<p class="note" id="sampling">Telemetry sampled down ${f.run.samplingFactor}x: one sample per allocated GPU every ${f.run.sampleIntervalSeconds} s of simulated time, where a node agent sends one every 10 s. Allocated GPU time (and so GPU-hour charges) comes from placements and is exact; busy time and energy are metered from the samples sent, so they are 1/${f.run.samplingFactor} of a real month's.</p>

<h2>Utilization per class against the ramp</h2>
${utilizationChart(f.utilization, 'chart-utilization')}
${table(
  ['day', 'GPU class', 'allocated share (mean of hours)', 'ramp'],
  dailyUtilization(f.utilization).map((d) => [d.day, d.gpuClass, pct(d.share), pct(d.ramp)]),
  'table-utilization',
)}
${source('metering GET /metering/utilization (projection metering.cluster_utilization_hourly from UsageRecorded/UsageCorrected events, over healthy GPU time from metering.fleet_class_changes, i.e. inventory NodesCommissioned/GpuHealthReported/drain events); the ramp is the plan the workloads were drawn from.')}

<h2>Routing: where each product ran</h2>
${table(
  ['workload class', 'GPU class', 'placed, first choice', 'placed, fallback'],
  f.routing.map((r) => [r.workloadClass, r.gpuClass, String(r.firstChoice), String(r.fallback)]),
  'table-routing',
)}
${source('allocation WorkloadPlaced events (gpuClass, routing.requestedClass, routing.reason), as POST /workloads answered them; the policy is the RoutingPolicyChanged event of the deal.')}

<h2>Placement latency</h2>
${barChart(
  'POST /workloads round trip, ms',
  [
    { label: 'p50', value: f.latency.p50Ms, text: `${f.latency.p50Ms.toFixed(1)} ms` },
    { label: 'p90', value: f.latency.p90Ms, text: `${f.latency.p90Ms.toFixed(1)} ms` },
    { label: 'p99', value: f.latency.p99Ms, text: `${f.latency.p99Ms.toFixed(1)} ms` },
    { label: 'max', value: f.latency.maxMs, text: `${f.latency.maxMs.toFixed(1)} ms` },
  ],
  'chart-latency',
)}
<p>${f.latency.count} placement requests; ${f.latency.placementsPerSecond.toFixed(1)} placements/s over the month phase.</p>
${source('the scenario client timing each POST /workloads over HTTP (token check, decide, group-committed append of WorkloadSubmitted/WorkloadPlaced|Queued|Rejected).')}

<h2>Decisions that did not place at once, by reason</h2>
${barChart(
  'Queued and rejected submissions by reason',
  [...rejectionsByReason].map(([label, count]) => ({ label, value: count, text: String(count) })),
  'chart-rejections',
)}
${table(
  ['outcome', 'reason', 'workload class', 'submissions'],
  f.decisions.map((d) => [d.outcome, d.reason, d.workloadClass, String(d.count)]),
  'table-rejections',
)}
${source('allocation WorkloadQueued and WorkloadRejected events (reason, detail), as POST /workloads answered them.')}

<h2>Quota changes</h2>
${table(
  ['at', 'tenant / GPU class / workload class', 'before', 'after', 'change', 'reason'],
  f.quotaChanges.map((q) => [q.at, q.key, String(q.previous), String(q.nominal), q.change, q.reason]),
  'table-quotas',
)}
${source('allocation QuotaChanged events (GET /quotas/:tenant/history).')}

<h2>Incidents</h2>
${table(
  ['at', 'kind', 'target', 'workloads evicted'],
  f.incidents.map((i) => [
    i.at,
    i.kind,
    i.target.length > 80 ? `${i.target.slice(0, 77)}...` : i.target,
    String(i.evicted),
  ]),
  'table-incidents',
)}
${source('inventory GpuHealthReported / RackDrained / RackUndrained events sent through POST /gpus/:id/health and /racks/:id/drain; evictions are allocation WorkloadEvicted events it decided on consuming them.')}

<h2>Power headroom per hall</h2>
${barChart(
  'Least headroom seen per hall, MW',
  f.power.map((p) => ({
    label: p.hallId,
    value: Math.max((p.minHeadroomW ?? 0) / 1_000_000, 0),
    text: `${mw(p.minHeadroomW)} of ${mw(p.budgetW)}`,
  })),
  'chart-power',
)}
${table(
  ['hall', 'budget', 'least headroom', 'draw then', 'readings'],
  f.power.map((p) => [p.hallId, mw(p.budgetW), mw(p.minHeadroomW), mw(p.drawAtMinW), String(p.readings)]),
  'table-power',
)}
${source("allocation GET /power?scope=hall at each window close (budgets from inventory's PowerBudgetChanged/HallRegistered events; draw = idle draw of every commissioned node + the share of every allocated GPU).")}

<h2>Invoice ${escapeHtml(inv.invoiceNumber === null ? inv.invoiceId : String(inv.invoiceNumber))} (${escapeHtml(inv.status)})</h2>
${table(
  ['kind', 'GPU class', 'quantity', 'unit', 'amount'],
  inv.lines.map((l) => [l.kind, l.gpuClass, l.quantity, l.unit, money(l.amountMinor)]),
  'table-invoice',
)}
<p id="invoice-total"><b>Total: ${escapeHtml(money(inv.totalMinor))}</b></p>
${source('billing GET /invoices/:id (projection billing.invoices/invoice_lines from ChargeRated, month close and InvoiceFinalized events; usage from metering UsageRecorded events). `npm run audit -- explain invoice N` walks each line back to samples and placements.')}

<h2>What it cost</h2>
${table(
  ['phase', 'wall time'],
  f.scale.phases.map((p) => [p.name, `${p.seconds.toFixed(1)} s`]),
  'table-phases',
)}
<p>Samples: ${f.scale.samples.sent.toLocaleString('en-US')} sent, ${f.scale.samples.accepted.toLocaleString('en-US')} accepted, ${f.scale.samples.perSecond.toFixed(0)} samples/s while sending. Kafka records published by the services' outboxes: ${f.scale.kafkaRecordsPublished === null ? 'n/a' : f.scale.kafkaRecordsPublished.toLocaleString('en-US')}.</p>
${table(
  ['service', 'events in its log'],
  f.scale.eventsByService.map((e) => [e.service, e.events.toLocaleString('en-US')]),
  'table-events',
)}
${table(
  ['schema', 'PostgreSQL size'],
  f.scale.schemaBytes.map((s) => [s.schema, `${(s.bytes / 1_048_576).toFixed(1)} MiB`]),
  'table-schemas',
)}
${table(
  ['service', 'peak RSS'],
  f.scale.peakRssBytes.map((s) => [s.service, `${(s.bytes / 1_048_576).toFixed(0)} MiB`]),
  'table-rss',
)}
${source("each service's GET /metrics (fleetledger_events_published_total, process_resident_memory_bytes, read every second), its event log (<schema>.events) and pg_total_relation_size per schema.")}

<h2>Audit</h2>
${table(
  ['command', 'exit code', 'summary'],
  f.audit.map((a) => [a.command, String(a.exitCode), a.summary]),
  'table-audit',
)}
${source('npm run audit -- verify | replay | reconcile, as finance runs them, as the fleetledger_audit role.')}
</body></html>
`;
}
