import {
  ColossusReportFigures,
  dailyUtilization,
  renderColossusReport,
  utilizationChart,
} from './colossus-report';

const hours = (day: string, gpuClass: string, shares: number[], ramp: number) =>
  shares.map((share, h) => ({
    gpuClass,
    hourStart: `${day}T${String(h).padStart(2, '0')}:00:00.000Z`,
    allocatedShare: share,
    ramp,
  }));

const figures: ColossusReportFigures = {
  period: '2027-01',
  generatedAt: '2027-02-01T03:00:00.000Z',
  run: {
    days: 2,
    gpus: 2000,
    seed: 42,
    speed: 'max',
    startAt: '2027-01-01T00:00:00.000Z',
    endAt: '2027-01-03T00:00:00.000Z',
    dealAt: '2027-01-02T00:00:00.000Z',
    sampleIntervalSeconds: 1800,
    samplingFactor: 180,
    loadAverage: '9.1 mean',
  },
  fleet: [
    { gpuClass: 'H100', gpus: 960 },
    { gpuClass: 'H200', gpus: 448 },
    { gpuClass: 'GB200', gpus: 576 },
  ],
  halls: 11,
  racks: 57,
  utilization: [
    ...hours('2027-01-01', 'H100', [0.4, 0.5], 0.45),
    ...hours('2027-01-02', 'H100', [0.7, 0.9], 0.75),
    ...hours('2027-01-01', 'GB200', [0.05, null as unknown as number], 0.45),
  ],
  routing: [
    { workloadClass: 'inference', gpuClass: 'GB200', firstChoice: 40, fallback: 0 },
    { workloadClass: 'inference', gpuClass: 'H200', firstChoice: 0, fallback: 3 },
  ],
  latency: { count: 300, p50Ms: 12.5, p90Ms: 30, p99Ms: 80.25, maxMs: 140, placementsPerSecond: 22.4 },
  decisions: [
    { outcome: 'queued', reason: 'quota', workloadClass: 'inference', count: 12 },
    { outcome: 'rejected', reason: 'topology', workloadClass: 'inference', count: 2 },
    { outcome: 'queued', reason: 'quota', workloadClass: 'agentic', count: 3 },
  ],
  quotaChanges: [
    {
      at: '2027-01-02T00:00:00.000Z',
      key: 'GB200/inference',
      previous: 34,
      nominal: 510,
      change: 'x15',
      reason: 'deal day: inference API tier throughput x15',
    },
  ],
  incidents: [{ at: '2027-01-01T06:00:00.000Z', kind: 'rack-drain', target: 'col1-h03-r001', evicted: 2 }],
  power: [
    { hallId: 'col1-h01', budgetW: 27_000_000, minHeadroomW: 26_500_000, drawAtMinW: 500_000, readings: 3 },
  ],
  invoice: {
    invoiceId: 'colossus-lab.2027-01',
    invoiceNumber: 1,
    status: 'finalized',
    totalMinor: '123456789',
    currency: 'USD',
    exponent: 2,
    lines: [
      {
        kind: 'gpu-usage',
        gpuClass: 'H100',
        quantity: '3600000',
        unit: 'milli-gpu-second',
        amountMinor: '250',
      },
      { kind: 'energy', gpuClass: 'H100', quantity: '1000', unit: 'milli-watt-hour', amountMinor: '-5' },
      {
        kind: 'commitment-shortfall',
        gpuClass: 'H100',
        quantity: '1',
        unit: 'each',
        amountMinor: '123456544',
      },
    ],
  },
  scale: {
    phases: [{ name: 'month', seconds: 61.5 }],
    samples: { sent: 10_000, accepted: 10_000, perSecond: 2500 },
    eventsByService: [{ service: 'allocation', events: 1234 }],
    schemaBytes: [{ schema: 'metering', bytes: 10_485_760 }],
    peakRssBytes: [{ service: 'metering', bytes: 262_144_000 }],
    kafkaRecordsPublished: 5678,
  },
  audit: [{ command: 'audit verify', exitCode: 0, summary: '12 checks ok; <done>' }],
};

describe('the Colossus month report', () => {
  const html = renderColossusReport(figures);

  it('has the four charts, one line per GPU class against a dashed ramp', () => {
    for (const id of ['chart-utilization', 'chart-latency', 'chart-rejections', 'chart-power'])
      expect([id, html.includes(`<svg id="${id}" class="chart"`)]).toEqual([id, true]);
    expect(html.match(/<polyline class="series"/g)).toHaveLength(2);
    expect(html.match(/<polyline class="ramp"/g)).toHaveLength(1);
  });

  it('prints the invoice exactly, in its currency, with the total', () => {
    expect(html).toContain('<td>2.50 USD</td>');
    expect(html).toContain('<td>-0.05 USD</td>');
    expect(html).toContain('Total: 1234567.89 USD');
    expect(html.match(/<tr>/g)!.length).toBeGreaterThan(figures.invoice.lines.length);
  });

  it('states the sampling factor and names a source under every section', () => {
    expect(html).toContain('sampled down 180x');
    expect(html).toContain('every 1800 s of simulated time');
    expect((html.match(/class="source"/g) ?? []).length).toBe(10);
    expect(html).toContain('QuotaChanged');
    expect(html).toContain('GET /power?scope=hall');
  });

  it('adds up rejections by reason across workload classes, and escapes what it prints', () => {
    expect(html).toContain('queued: quota');
    expect(html).toMatch(/queued: quota<\/text>[\s\S]*?>15<\/text>/);
    expect(html).toContain('12 checks ok; &lt;done&gt;');
    expect(html).not.toContain('<done>');
  });

  it('averages the hours of each day per class, leaving hours without a share out', () => {
    expect(dailyUtilization(figures.utilization)).toEqual([
      { day: '2027-01-01', gpuClass: 'GB200', share: 0.05, ramp: 0.45 },
      { day: '2027-01-01', gpuClass: 'H100', share: 0.45, ramp: 0.45 },
      { day: '2027-01-02', gpuClass: 'H100', share: expect.closeTo(0.8), ramp: 0.75 },
    ]);
  });

  it('an empty month draws an empty chart rather than failing', () => {
    expect(utilizationChart([], 'x')).toContain('no usage records');
  });
});
