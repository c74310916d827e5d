// Checks for k8s/monitoring: the Prometheus Operator objects (no kubernetes-models class exists for them), the
// Grafana dashboard JSON, and the metric names a PromQL expression references.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** PromQL functions and aggregations (plus Grafana's label_values), the only names allowed before `(`. */
const functions = new Set(
  [
    'abs absent absent_over_time avg avg_over_time bottomk ceil changes clamp clamp_max clamp_min count',
    'count_over_time count_values day_of_month day_of_week day_of_year days_in_month delta deriv exp floor',
    'group histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev',
    'histogram_stdvar histogram_sum holt_winters hour idelta increase irate label_join label_replace',
    'last_over_time limitk limit_ratio ln log10 log2 mad_over_time max max_over_time min min_over_time',
    'minute month predict_linear present_over_time quantile quantile_over_time rate resets round scalar sgn',
    'sort sort_by_label sort_by_label_desc sort_desc sqrt stddev stddev_over_time stdvar stdvar_over_time',
    'sum sum_over_time time timestamp topk vector year',
  ]
    .join(' ')
    .split(' '),
);

/** Words of the language that are not series: binary operators, modifiers, literals. */
const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'atan2']);

/** Label-list clauses: `by (a, b)` etc. hold label names, not series. */
const labelClause = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g;

export class PromqlError extends Error {}

/**
 * The metric names an expression selects. A simple tokenizer, not a parser: strings, Grafana variables,
 * label matchers, label-list clauses and ranges are removed; an identifier before `(` must be a known
 * function; any other identifier that is not a keyword or a number is a series name.
 */
export function metricNames(expr: string): string[] {
  let balance = 0;
  for (const char of expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')) {
    if ('({['.includes(char)) balance += 1;
    if (')}]'.includes(char)) balance -= 1;
    if (balance < 0) throw new PromqlError(`unbalanced brackets in ${expr}`);
  }
  if (balance !== 0) throw new PromqlError(`unbalanced brackets in ${expr}`);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(labelClause, ' ')
    .replace(/\boffset\s+\d+[smhdwy]/g, ' ');
  const names: string[] = [];
  const token = /(\d+(?:\.\d*)?(?:e[+-]?\d+)?)|([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/gi;
  for (const [, number, identifier, call] of stripped.matchAll(token)) {
    if (number !== undefined || identifier === undefined) continue;
    if (call) {
      if (!functions.has(identifier)) throw new PromqlError(`unknown function ${identifier}( in ${expr}`);
    } else if (!keywords.has(identifier.toLowerCase())) names.push(identifier);
  }
  return [...new Set(names)];
}

/**
 * Label matchers written on a series: `name{label="v", other=~"w"}` gives [{ series: name, labels: [label, other] }].
 * Matchers on a bare `{...}` selector (no name) are left out.
 */
export function labelMatchers(expr: string): { series: string; labels: string[] }[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  return [...withoutStrings.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}/g)].map(
    ([, series, body]) => ({
      series,
      labels: [...body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map(([, label]) => label),
    }),
  );
}

/** The names a scrape of the series exposes: histograms as _bucket/_sum/_count, summaries as _sum/_count too. */
export function scrapedNames(metric: { name: string; type: string }): string[] {
  switch (metric.type) {
    case 'histogram':
      return [`${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`];
    case 'summary':
      return [metric.name, `${metric.name}_sum`, `${metric.name}_count`];
    default:
      return [metric.name];
  }
}

/** Names given to `new Counter|Gauge|Histogram|Summary({ name: ... })` anywhere in apps/ and libs/ (not tests). */
export function metricNamesInSource(root: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      if (entry.name === 'node_modules' || entry.name === 'dist') return [];
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
    });
  const declaration = /new (?:Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\{\s*name:\s*['"]([^'"]+)['"]/g;
  for (const path of [...walk(join(root, 'apps')), ...walk(join(root, 'libs'))])
    for (const [, name] of readFileSync(path, 'utf8').matchAll(declaration)) found.set(name, path);
  return found;
}

// ---- Grafana dashboard ----------------------------------------------------------------------------------

interface Target {
  expr?: unknown;
  refId?: unknown;
}
interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  gridPos?: { h?: unknown; w?: unknown; x?: unknown; y?: unknown };
  targets?: Target[];
  panels?: Panel[];
}
export interface Dashboard {
  title?: unknown;
  uid?: unknown;
  schemaVersion?: unknown;
  panels?: Panel[];
  templating?: { list?: { name?: unknown; type?: unknown; query?: unknown; definition?: unknown }[] };
}

/** What Grafana needs to import the JSON as a dashboard, and each query panel to query Prometheus. */
export function dashboardProblems(dashboard: Dashboard): string[] {
  const problems: string[] = [];
  if (typeof dashboard.title !== 'string' || !dashboard.title) problems.push('no title');
  if (typeof dashboard.uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(dashboard.uid))
    problems.push('uid missing or not 1-40 of [A-Za-z0-9_-]');
  if (typeof dashboard.schemaVersion !== 'number' || dashboard.schemaVersion < 30)
    problems.push('schemaVersion missing or older than 30');
  if (!Array.isArray(dashboard.panels) || dashboard.panels.length === 0) return [...problems, 'no panels'];
  const ids = new Set<unknown>();
  for (const panel of dashboardPanels(dashboard)) {
    const where = `panel ${String(panel.id)} "${String(panel.title)}"`;
    if (typeof panel.id !== 'number' || ids.has(panel.id)) problems.push(`${where}: id missing or repeated`);
    ids.add(panel.id);
    if (typeof panel.title !== 'string' || !panel.title) problems.push(`${where}: no title`);
    if (typeof panel.type !== 'string') problems.push(`${where}: no type`);
    const grid = panel.gridPos;
    if (!grid || !['h', 'w', 'x', 'y'].every((key) => typeof grid[key as keyof typeof grid] === 'number'))
      problems.push(`${where}: gridPos needs numeric h, w, x, y`);
    else if ((grid.x as number) + (grid.w as number) > 24)
      problems.push(`${where}: wider than the 24-column grid`);
    if (panel.type === 'row') continue;
    if (!Array.isArray(panel.targets) || panel.targets.length === 0) problems.push(`${where}: no targets`);
    const refIds = new Set<unknown>();
    for (const target of panel.targets ?? []) {
      if (typeof target.expr !== 'string' || !target.expr.trim())
        problems.push(`${where}: a target without a PromQL expr`);
      if (typeof target.refId !== 'string' || refIds.has(target.refId))
        problems.push(`${where}: refId missing or repeated`);
      refIds.add(target.refId);
    }
  }
  return problems;
}

/** Panels, including those nested in collapsed rows. */
export function dashboardPanels(dashboard: Dashboard): Panel[] {
  return (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** Every PromQL string of the dashboard: panel targets, and the selectors of label_values() variables. */
export function dashboardExpressions(dashboard: Dashboard): { where: string; expr: string }[] {
  const exprs = dashboardPanels(dashboard).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      where: `panel "${String(panel.title)}"`,
      expr: String(target.expr),
    })),
  );
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const query =
      typeof variable.query === 'string' ? variable.query : (variable.query as { query?: string })?.query;
    const selector = /^label_values\((.*),\s*\w+\)$/.exec(String(query ?? '').trim())?.[1];
    if (!selector)
      throw new PromqlError(`variable ${String(variable.name)}: not a label_values(selector, label) query`);
    exprs.push({ where: `variable ${String(variable.name)}`, expr: selector });
  }
  return exprs;
}

// ---- Prometheus Operator objects --------------------------------------------------------------------------

interface Rule {
  alert?: unknown;
  record?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
export interface PrometheusRuleSpec {
  groups?: { name?: unknown; rules?: Rule[] }[];
}

const duration = /^(\d+[smhdwy])+$/;
export const severities = ['critical', 'warning', 'info'];

/** Each alert needs a name, an expression, a `for:`, a severity and summary/description annotations. */
export function prometheusRuleProblems(spec: PrometheusRuleSpec | undefined): string[] {
  const problems: string[] = [];
  if (!Array.isArray(spec?.groups) || spec.groups.length === 0) return ['spec.groups is empty'];
  const alerts = new Set<unknown>();
  for (const group of spec.groups) {
    if (typeof group.name !== 'string' || !group.name) problems.push('a group without a name');
    if (!Array.isArray(group.rules) || group.rules.length === 0)
      problems.push(`group ${String(group.name)}: no rules`);
    for (const rule of group.rules ?? []) {
      const where = `${String(group.name)}/${String(rule.alert ?? rule.record)}`;
      if (typeof rule.expr !== 'string' || !rule.expr.trim()) problems.push(`${where}: no expr`);
      if (rule.record !== undefined) continue;
      if (typeof rule.alert !== 'string' || !/^[A-Z][A-Za-z0-9]+$/.test(rule.alert))
        problems.push(`${where}: alert name missing or not CamelCase`);
      if (alerts.has(rule.alert)) problems.push(`${where}: alert name repeated`);
      alerts.add(rule.alert);
      if (typeof rule.for !== 'string' || !duration.test(rule.for))
        problems.push(`${where}: no for: duration`);
      if (!severities.includes(String(rule.labels?.severity)))
        problems.push(`${where}: severity not one of ${severities.join(', ')}`);
      for (const annotation of ['summary', 'description'])
        if (
          typeof rule.annotations?.[annotation] !== 'string' ||
          !String(rule.annotations[annotation]).trim()
        )
          problems.push(`${where}: no ${annotation} annotation`);
    }
  }
  return problems;
}

export interface PodMonitorSpec {
  selector?: { matchLabels?: Record<string, string> };
  podMetricsEndpoints?: { port?: unknown; path?: unknown }[];
}

export function podMonitorProblems(spec: PodMonitorSpec | undefined): string[] {
  const problems: string[] = [];
  if (!spec?.selector?.matchLabels || Object.keys(spec.selector.matchLabels).length === 0)
    problems.push('no selector.matchLabels (it would select every pod)');
  if (!Array.isArray(spec?.podMetricsEndpoints) || spec.podMetricsEndpoints.length === 0)
    problems.push('no podMetricsEndpoints');
  for (const endpoint of spec?.podMetricsEndpoints ?? [])
    if (typeof endpoint.port !== 'string' || typeof endpoint.path !== 'string')
      problems.push('an endpoint without a named port and a path');
  return problems;
}
