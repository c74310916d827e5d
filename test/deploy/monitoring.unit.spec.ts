// k8s/monitoring: the Grafana dashboard and the Prometheus alert rules are well formed, and every series they
// name is one a service really exports, read from the code (the Metrics class and the apps' own metrics).
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Metrics } from '@fleetledger/platform/metrics';
import type { ServiceOptions } from '@fleetledger/platform/service-options';
import { TelemetryConsumer } from '../../apps/metering/src/api/telemetry.consumer';
import {
  byKind,
  loadDocuments,
  parseDocuments,
  repoRoot,
  validateAgainstSchema,
  type K8sObject,
} from './k8s-manifests';
import {
  dashboardExpressions,
  dashboardPanels,
  dashboardProblems,
  labelMatchers,
  metricNames,
  metricNamesInSource,
  prometheusRuleProblems,
  PromqlError,
  scrapedNames,
  type Dashboard,
  type PrometheusRuleSpec,
} from './monitoring';

const monitoringDir = join(repoRoot, 'k8s', 'monitoring');
const dashboardFile = join(monitoringDir, 'fleetledger-dashboard.json');
const dashboardText = readFileSync(dashboardFile, 'utf8');
const documents = loadDocuments(monitoringDir);
const [rule] = byKind<{ metadata: { name: string }; spec: PrometheusRuleSpec }>(documents, 'PrometheusRule');
const alerts = (rule?.spec.groups ?? []).flatMap((group) => group.rules ?? []);

/** Series Prometheus makes itself for every target. */
const prometheusOwn = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped'];

/** Labels Prometheus adds to every series of a target (podmonitor.yaml), and the registry's default label. */
const targetLabels = [
  'job',
  'instance',
  'namespace',
  'pod',
  'app_kubernetes_io_name',
  'app_kubernetes_io_part_of',
];

/**
 * Every series name a service exports, read from the code: the platform's Metrics (a fresh registry, with the
 * Node.js process defaults) plus the series the apps register on it (metering's telemetry consumer); with
 * the labels each may carry.
 */
async function exportedSeries(): Promise<{
  names: Set<string>;
  registered: Set<string>;
  labels: Map<string, Set<string>>;
}> {
  const metrics = new Metrics({ service: 'monitoring-test' } as ServiceOptions);
  // Only the constructor runs, registering the consumer's series; no Kafka or database is touched.
  const none = undefined as never;
  new TelemetryConsumer(none, none, none, metrics);
  const json = await metrics.registry.getMetricsAsJSON();
  const labels = new Map<string, Set<string>>([['up', new Set(targetLabels)]]);
  for (const metric of json) {
    const declared = (metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] })
      .labelNames;
    const seen = metric.values.flatMap((value) => Object.keys(value.labels));
    for (const name of scrapedNames({ name: metric.name, type: String(metric.type) }))
      labels.set(
        name,
        new Set([
          ...targetLabels,
          'service',
          ...(declared ?? []),
          ...seen.filter((label) => label !== 'le' && label !== 'quantile'),
          ...(name.endsWith('_bucket') ? ['le'] : []),
        ]),
      );
  }
  return { names: new Set(labels.keys()), registered: new Set(json.map((metric) => metric.name)), labels };
}

/** "where: series{label}" for each label matcher on a series that cannot carry that label. */
function unknownLabels(exprs: { where: string; expr: string }[], labels: Map<string, Set<string>>): string[] {
  return exprs.flatMap(({ where, expr }) =>
    labelMatchers(expr).flatMap(({ series, labels: used }) =>
      used
        .filter((label) => labels.get(series)?.has(label) === false)
        .map((label) => `${where}: ${series}{${label}}`),
    ),
  );
}

/** "where: name" for each referenced series that no service exports. */
function unknownSeries(exprs: { where: string; expr: string }[], exported: Set<string>): string[] {
  return exprs.flatMap(({ where, expr }) =>
    metricNames(expr)
      .filter((name) => !exported.has(name) && !prometheusOwn.includes(name))
      .map((name) => `${where}: ${name}`),
  );
}

const ruleExpressions = () =>
  alerts.map((r) => ({ where: `alert ${String(r.alert)}`, expr: String(r.expr) }));

describe('PromQL metric names', () => {
  it('finds series, not functions, keywords, labels, strings, numbers, ranges or Grafana variables', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (service, le) (rate(a_seconds_bucket{outcome!="rejected", service=~"$service"}[$__rate_interval]))) > 0.5',
      ),
    ).toEqual(['a_seconds_bucket']);
    expect(
      metricNames(
        'max by (ns) (b_pending) > 0 and on (ns) sum without (pod) (rate(c_total[10m:1m] offset 5m)) == bool 1e3 or up',
      ),
    ).toEqual(['b_pending', 'c_total', 'up']);
    expect(metricNames('d_total / ignoring (outcome) group_left (x) e_total')).toEqual([
      'd_total',
      'e_total',
    ]);
  });

  it('reads the label matchers of each selector, ignoring values', () => {
    expect(
      labelMatchers('sum(rate(a_total{outcome!="x{y}", service=~"$service"}[5m])) / b{le="+Inf"}'),
    ).toEqual([
      { series: 'a_total', labels: ['outcome', 'service'] },
      { series: 'b', labels: ['le'] },
    ]);
  });

  it('catches a matcher on a label the series does not have', async () => {
    const { labels } = await exportedSeries();
    expect(
      unknownLabels(
        [
          {
            where: 'x',
            expr: 'fleetledger_consumer_lag{reason="a", consumer="b"} + up{pod="p"} + fleetledger_command_duration_seconds_count{le="1"}',
          },
        ],
        labels,
      ),
    ).toEqual(['x: fleetledger_consumer_lag{reason}', 'x: fleetledger_command_duration_seconds_count{le}']);
  });

  it('rejects an unknown function and unbalanced brackets', () => {
    expect(() => metricNames('rat(fleetledger_events_published_total[5m])')).toThrow(PromqlError);
    expect(() => metricNames('sum(rate(fleetledger_events_published_total[5m])')).toThrow(/unbalanced/);
  });
});

describe('series exported by the services', () => {
  it('include the platform series, histogram buckets, metering series and the process defaults', async () => {
    const { names } = await exportedSeries();
    for (const name of [
      'fleetledger_consumer_lag',
      'fleetledger_dead_letters_total',
      'fleetledger_outbox_pending',
      'fleetledger_command_duration_seconds_bucket',
      'fleetledger_command_duration_seconds_count',
      'fleetledger_metering_samples_total',
      'fleetledger_metering_ingest_lag_seconds_bucket',
      'process_resident_memory_bytes',
    ])
      expect(names).toContain(name);
    expect(names).not.toContain('fleetledger_command_duration_seconds');
  });

  it('cover every metric declared in apps/ and libs/ (a new one must be instantiated above)', async () => {
    const { registered } = await exportedSeries();
    const declared = metricNamesInSource(repoRoot);
    expect(declared.size).toBeGreaterThanOrEqual(9);
    expect([...declared.keys()].filter((name) => !registered.has(name))).toEqual([]);
  });
});

describe('k8s/monitoring: Grafana dashboard', () => {
  const dashboard = JSON.parse(dashboardText) as Dashboard;

  it('parses as a Grafana dashboard: title, uid, schemaVersion, panels with PromQL targets', () => {
    expect(dashboardProblems(dashboard)).toEqual([]);
    expect(dashboardPanels(dashboard).filter((panel) => panel.type !== 'row').length).toBeGreaterThanOrEqual(
      10,
    );
  });

  it('names only series a service exports', async () => {
    const { names } = await exportedSeries();
    const exprs = dashboardExpressions(dashboard);
    expect(exprs.length).toBeGreaterThan(15);
    expect(unknownSeries(exprs, names)).toEqual([]);
  });

  it('matches only on labels those series carry', async () => {
    const { labels } = await exportedSeries();
    expect(unknownLabels(dashboardExpressions(dashboard), labels)).toEqual([]);
  });

  it('shows consumer lag, dead letters, outbox, appended events, command latency, metering and memory', () => {
    const used = new Set(dashboardExpressions(dashboard).flatMap(({ expr }) => metricNames(expr)));
    for (const name of [
      'fleetledger_consumer_lag',
      'fleetledger_dead_letters_total',
      'fleetledger_outbox_pending',
      'fleetledger_events_appended_total',
      'fleetledger_events_published_total',
      'fleetledger_command_duration_seconds_bucket',
      'fleetledger_metering_samples_total',
      'fleetledger_metering_ingest_lag_seconds_bucket',
      'process_resident_memory_bytes',
    ])
      expect(used).toContain(name);
    const quantiles = dashboardExpressions(dashboard)
      .map(
        ({ expr }) =>
          /^histogram_quantile\((0\.\d+), .*fleetledger_command_duration_seconds_bucket/.exec(expr)?.[1],
      )
      .filter(Boolean);
    expect(quantiles.sort()).toEqual(['0.5', '0.99']);
  });

  it('catches a panel without targets, a missing uid and a series no service exports', async () => {
    const { names } = await exportedSeries();
    const broken = structuredClone(dashboard);
    delete broken.uid;
    const panels = dashboardPanels(broken).filter((panel) => panel.type !== 'row');
    panels[0].targets = [];
    panels[1].targets = [{ refId: 'A', expr: 'sum(rate(fleetledger_events_publised_total[5m]))' }];
    expect(dashboardProblems(broken)).toEqual(
      expect.arrayContaining([
        'uid missing or not 1-40 of [A-Za-z0-9_-]',
        expect.stringMatching(/no targets$/),
      ]),
    );
    expect(unknownSeries(dashboardExpressions(broken), names)).toEqual([
      `panel "${String(panels[1].title)}": fleetledger_events_publised_total`,
    ]);
  });

  it('is generated into a ConfigMap the Grafana sidecar picks up (grafana_dashboard: "1")', () => {
    const [kustomization] = documents.filter((doc) => doc.content.kind === 'Kustomization');
    const generators = (kustomization.content as { configMapGenerator?: unknown[] }).configMapGenerator;
    expect(generators).toEqual([
      {
        name: 'fleetledger-grafana-dashboard',
        files: ['fleetledger-dashboard.json'],
        options: { labels: { grafana_dashboard: '1' }, disableNameSuffixHash: true },
      },
    ]);
  });
});

describe('k8s/monitoring: PrometheusRule', () => {
  it('is a monitoring.coreos.com/v1 PrometheusRule where every alert has expr, for, severity and annotations', () => {
    expect(rule).toBeDefined();
    expect(prometheusRuleProblems(rule.spec)).toEqual([]);
    expect(() => validateAgainstSchema(rule as unknown as K8sObject)).not.toThrow();
  });

  it('names only series a service exports', async () => {
    const { names } = await exportedSeries();
    expect(unknownSeries(ruleExpressions(), names)).toEqual([]);
  });

  it('matches only on labels those series carry', async () => {
    const { labels } = await exportedSeries();
    expect(unknownLabels(ruleExpressions(), labels)).toEqual([]);
  });

  it('alerts on consumer lag, dead letters, outbox, command latency, unrated usage and a service down', () => {
    const byName = new Map(alerts.map((r) => [r.alert, String(r.expr)]));
    const uses = (alert: string, series: string) =>
      expect(metricNames(byName.get(alert) ?? '')).toContain(series);
    uses('FleetLedgerConsumerLagHigh', 'fleetledger_consumer_lag');
    uses('FleetLedgerDeadLetters', 'fleetledger_dead_letters_total');
    uses('FleetLedgerOutboxBacklog', 'fleetledger_outbox_pending');
    uses('FleetLedgerOutboxNotDraining', 'fleetledger_events_published_total');
    uses('FleetLedgerCommandLatencyHigh', 'fleetledger_command_duration_seconds_bucket');
    uses('FleetLedgerUsageNotRated', 'fleetledger_consumer_lag');
    uses('FleetLedgerServiceDown', 'up');
    uses('FleetLedgerServiceAbsent', 'up');
    // up is selected by the pod label both scrape setups carry (podmonitor.yaml), not a job name.
    expect(byName.get('FleetLedgerServiceDown')).toContain('up{app_kubernetes_io_part_of="fleetledger"}');
  });

  it('catches a rule without for, severity or annotations, and a series no service exports', async () => {
    const { names } = await exportedSeries();
    const broken = structuredClone(rule.spec);
    const first = broken.groups![0].rules![0];
    delete first.for;
    first.labels = {};
    delete first.annotations;
    first.expr = 'fleetledger_outbox_backlog > 0';
    expect(prometheusRuleProblems(broken)).toEqual([
      `${String(broken.groups![0].name)}/${String(first.alert)}: no for: duration`,
      expect.stringMatching(/severity not one of/),
      expect.stringMatching(/no summary annotation$/),
      expect.stringMatching(/no description annotation$/),
    ]);
    expect(() => validateAgainstSchema({ ...rule, spec: broken } as unknown as K8sObject)).toThrow(
      /no for: duration/,
    );
    expect(unknownSeries([{ where: 'alert X', expr: String(first.expr) }], names)).toEqual([
      'alert X: fleetledger_outbox_backlog',
    ]);
  });
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
(kubectl.status === 0 ? describe : describe.skip)('k8s/monitoring rendered by kubectl kustomize', () => {
  it('holds the PodMonitor, the PrometheusRule and the dashboard ConfigMap with the JSON file verbatim', () => {
    const result = spawnSync('kubectl', ['kustomize', monitoringDir], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(result.stderr);
    const rendered = parseDocuments(result.stdout, 'k8s/monitoring');
    expect(rendered.map((doc) => doc.content.kind).sort()).toEqual([
      'ConfigMap',
      'PodMonitor',
      'PrometheusRule',
    ]);
    for (const doc of rendered) expect(() => validateAgainstSchema(doc.content)).not.toThrow();
    const [configMap] = byKind<{
      metadata: { name: string; labels: Record<string, string> };
      data: Record<string, string>;
    }>(rendered, 'ConfigMap');
    expect(configMap.metadata.name).toBe('fleetledger-grafana-dashboard');
    expect(configMap.metadata.labels.grafana_dashboard).toBe('1');
    expect(configMap.data['fleetledger-dashboard.json']).toBe(dashboardText);
  });
});
