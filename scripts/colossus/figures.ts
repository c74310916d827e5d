/**
 * Turns a run's result into the report's figures (pure), and reads what only the database knows (events per
 * service, size per schema) as the audit role.
 */
import { ColossusReportFigures } from '../../apps/audit/src/colossus-report';
import { percentile } from './client';
import { rampShare, ROUTES, GPU_CLASSES, WorkloadClass } from './plan';
import { ScenarioResult } from './scenario';

export interface ScaleReadings {
  eventsByService: { service: string; events: number }[];
  schemaBytes: { schema: string; bytes: number }[];
  peakRssBytes: { service: string; bytes: number }[];
  kafkaRecordsPublished: number | null;
  loadAverage: string;
}

interface QuotaHistoryRow {
  gpuClass: string;
  workloadClass: string;
  nominal: number;
  previous?: { nominal: number };
  previousNominal?: number;
  change?: { kind: string; factor?: number };
  changeKind?: string;
  factor?: number;
  reason: string;
  changedAt?: string;
  at?: string;
}

export function figuresOf(
  result: ScenarioResult,
  scale: ScaleReadings,
  audit: ColossusReportFigures['audit'],
  generatedAt: string,
): ColossusReportFigures {
  const iso = (ms: number) => new Date(ms).toISOString();
  const span = { startMs: result.plan.startMs, endMs: result.plan.plannedEndMs };

  const routing = new Map<
    string,
    { workloadClass: string; gpuClass: string; firstChoice: number; fallback: number }
  >();
  const decisions = new Map<
    string,
    { outcome: string; reason: string; workloadClass: string; count: number }
  >();
  for (const d of result.decisions) {
    if (d.outcome === 'placed') {
      const key = `${d.workloadClass}|${d.gpuClass}`;
      const row = routing.get(key) ?? {
        workloadClass: d.workloadClass,
        gpuClass: d.gpuClass!,
        firstChoice: 0,
        fallback: 0,
      };
      if (d.gpuClass === ROUTES[d.workloadClass][0]) row.firstChoice += 1;
      else row.fallback += 1;
      routing.set(key, row);
    } else {
      const key = `${d.outcome}|${d.reason}|${d.workloadClass}`;
      const row = decisions.get(key) ?? {
        outcome: d.outcome,
        reason: d.reason ?? 'unknown',
        workloadClass: d.workloadClass,
        count: 0,
      };
      row.count += 1;
      decisions.set(key, row);
    }
  }

  const power = new Map<string, ColossusReportFigures['power'][number]>();
  for (const snapshot of result.snapshots)
    for (const hall of snapshot.halls) {
      const row = power.get(hall.id) ?? {
        hallId: hall.id,
        budgetW: hall.budgetW,
        minHeadroomW: null,
        drawAtMinW: 0,
        readings: 0,
      };
      row.readings += 1;
      if (hall.headroomW !== null && (row.minHeadroomW === null || hall.headroomW < row.minHeadroomW)) {
        row.minHeadroomW = hall.headroomW;
        row.drawAtMinW = hall.drawW;
      }
      power.set(hall.id, row);
    }

  const monthPhase = result.phases.find((p) => p.name === 'month');
  const placed = result.decisions.filter((d) => d.outcome === 'placed').length;
  const exponent = result.invoice.currency?.minorUnitExponent ?? 2;
  return {
    period: result.period,
    generatedAt,
    run: {
      days: result.options.days,
      gpus: result.options.gpus,
      seed: result.options.seed,
      speed: String(result.options.speed),
      startAt: iso(result.plan.startMs),
      endAt: iso(result.plan.endMs) + (result.endedEarlyAt ? ' (ended early: wall budget)' : ''),
      dealAt: iso(result.plan.dealAtMs),
      sampleIntervalSeconds: result.plan.sampleIntervalMs / 1000,
      samplingFactor: result.plan.samplingFactor,
      loadAverage: scale.loadAverage,
    },
    fleet: GPU_CLASSES.map((gpuClass) => ({ gpuClass, gpus: result.fleet[gpuClass] })),
    halls: result.halls,
    racks: result.racks,
    utilization: result.utilizationHourly
      .filter((u) => Date.parse(u.hourStart) < result.plan.endMs)
      .map((u) => ({
        gpuClass: u.gpuClass,
        hourStart: u.hourStart,
        allocatedShare: u.allocatedShareOfHealthy,
        ramp: rampShare(span, Date.parse(u.hourStart) + 1_800_000),
      })),
    routing: [...routing.values()].sort((a, b) =>
      `${a.workloadClass}${a.gpuClass}`.localeCompare(`${b.workloadClass}${b.gpuClass}`),
    ),
    latency: {
      count: result.submitLatencyMs.length,
      p50Ms: percentile(result.submitLatencyMs, 50),
      p90Ms: percentile(result.submitLatencyMs, 90),
      p99Ms: percentile(result.submitLatencyMs, 99),
      maxMs: percentile(result.submitLatencyMs, 100),
      placementsPerSecond: monthPhase && monthPhase.wallMs > 0 ? (placed * 1000) / monthPhase.wallMs : 0,
    },
    decisions: [...decisions.values()].sort((a, b) => b.count - a.count),
    quotaChanges: (result.quotaHistory as QuotaHistoryRow[]).map((q) => ({
      at: q.changedAt ?? q.at ?? '',
      key: `${q.gpuClass}/${q.workloadClass}`,
      previous: q.previous?.nominal ?? q.previousNominal ?? 0,
      nominal: q.nominal,
      change: changeText(q),
      reason: q.reason,
    })),
    incidents: result.incidents.map((i) => ({
      at: i.at,
      kind: i.kind,
      target: i.target,
      evicted: i.evicted.length,
    })),
    power: [...power.values()].sort((a, b) => a.hallId.localeCompare(b.hallId)),
    invoice: {
      invoiceId: result.invoice.invoiceId ?? result.invoiceId,
      invoiceNumber: result.invoice.invoiceNumber,
      status: result.invoice.status,
      totalMinor: result.invoice.totalMinor,
      currency: result.invoice.currency?.code ?? 'USD',
      exponent,
      lines: result.invoice.lines.map((l) => ({
        kind: l.kind,
        gpuClass: l.gpuClass ?? '',
        quantity: l.quantity,
        unit: l.quantityUnit,
        amountMinor: l.amountMinor,
      })),
    },
    scale: {
      phases: result.phases.map((p) => ({ name: p.name, seconds: p.wallMs / 1000 })),
      samples: {
        sent: result.samples.sent,
        accepted: result.samples.accepted,
        perSecond: result.samples.wallMs > 0 ? (result.samples.sent * 1000) / result.samples.wallMs : 0,
      },
      eventsByService: scale.eventsByService,
      schemaBytes: scale.schemaBytes,
      peakRssBytes: scale.peakRssBytes,
      kafkaRecordsPublished: scale.kafkaRecordsPublished,
    },
    audit,
  };
}

function changeText(q: QuotaHistoryRow): string {
  const kind = q.change?.kind ?? q.changeKind ?? 'set';
  const factor = q.change?.factor ?? q.factor;
  return kind === 'multiply' ? `x${factor}` : kind;
}

/** Workload classes whose placements all ran on a class the routing policy lists for them. */
export function routedAsPolicy(result: ScenarioResult): Record<WorkloadClass, boolean> {
  const out: Record<WorkloadClass, boolean> = { inference: true, agentic: true, training: true };
  for (const d of result.decisions)
    if (d.outcome === 'placed' && !ROUTES[d.workloadClass].includes(d.gpuClass!))
      out[d.workloadClass] = false;
  return out;
}

/** Events per service log and bytes per schema, read as the audit role. */
export async function readDatabaseScale(
  query: (sql: string) => Promise<Record<string, unknown>[]>,
): Promise<Pick<ScaleReadings, 'eventsByService' | 'schemaBytes'>> {
  const eventsByService: ScaleReadings['eventsByService'] = [];
  for (const service of ['inventory', 'allocation', 'metering', 'billing']) {
    const [row] = await query(`SELECT count(*)::bigint AS n FROM ${service}.events`);
    eventsByService.push({ service, events: Number(row?.n ?? 0) });
  }
  const schemaBytes = (
    await query(
      `SELECT n.nspname AS schema, sum(pg_total_relation_size(c.oid))::bigint AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('inventory', 'allocation', 'metering', 'billing')
        GROUP BY n.nspname ORDER BY n.nspname`,
    )
  ).map((r) => ({ schema: String(r.schema), bytes: Number(r.bytes) }));
  return { eventsByService, schemaBytes };
}
