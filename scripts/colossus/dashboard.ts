/**
 * The live view of a Colossus run: on a terminal, cli-progress bars (the month, each GPU class's
 * utilization against the ramp, the services' throughput and lag), refreshed every second; elsewhere (CI,
 * a log file), one status line every 10 seconds. The services' figures come from their GET /metrics,
 * read every 2 seconds; the scenario's own (placements, queue, samples) from its status callback.
 */
import { MultiBar, Presets, SingleBar } from 'cli-progress';
import { ServiceClient, ServiceName, sumSeries } from './client';
import { GPU_CLASSES, GpuClass, RAMP_FROM, RAMP_TO } from './plan';
import { LiveStatus } from './scenario';

const SERVICES: ServiceName[] = ['inventory', 'allocation', 'metering', 'billing'];

interface ServiceReading {
  atMs: number;
  published: number;
  lag: number;
  rssBytes: number;
}

export class LiveView {
  private readonly readings = new Map<ServiceName, ServiceReading[]>();
  readonly peakRssBytes = new Map<ServiceName, number>();
  readonly publishedAtStart = new Map<ServiceName, number>();
  private timer?: NodeJS.Timeout;
  private multibar?: MultiBar;
  private bars = new Map<string, SingleBar>();
  private lastStatus?: LiveStatus;
  private previousStatus?: { atMs: number; placements: number; samples: number };
  private rates = { placementsPerSecond: 0, samplesPerSecond: 0 };
  private lastLineMs = 0;
  private readonly tty: boolean;

  constructor(
    private readonly client: ServiceClient,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    this.tty = Boolean(out.isTTY) && process.env.COLOSSUS_PLAIN !== '1';
  }

  async start(): Promise<void> {
    await this.poll();
    for (const service of SERVICES)
      this.publishedAtStart.set(service, this.readings.get(service)?.at(-1)?.published ?? 0);
    this.timer = setInterval(() => void this.poll().catch(() => undefined), 2000);
    this.timer.unref();
    if (this.tty) {
      this.multibar = new MultiBar(
        {
          clearOnComplete: false,
          hideCursor: true,
          format: '{label} [{bar}] {percentage}% {text}',
          barsize: 30,
          stream: this.out,
        },
        Presets.shades_classic,
      );
      this.bars.set('month', this.multibar.create(1000, 0, { label: 'month      ', text: '' }));
      for (const gpuClass of GPU_CLASSES)
        this.bars.set(gpuClass, this.multibar.create(100, 0, { label: `${gpuClass.padEnd(11)}`, text: '' }));
      this.bars.set(
        'services',
        this.multibar.create(1, 0, { label: 'services   ', text: '' }, { format: '{label} {text}' }),
      );
      this.bars.set(
        'lag',
        this.multibar.create(1, 0, { label: 'consumers  ', text: '' }, { format: '{label} {text}' }),
      );
    }
  }

  /** On a terminal, prints a line above the bars (true); elsewhere leaves it to the caller (false). */
  log(line: string): boolean {
    if (!this.multibar) return false;
    this.multibar.log(`[colossus] ${line}\n`);
    return true;
  }

  /** The scenario's status (about once a second). */
  update(status: LiveStatus): void {
    const now = Date.now();
    if (this.previousStatus && now - this.previousStatus.atMs >= 1000) {
      const seconds = (now - this.previousStatus.atMs) / 1000;
      this.rates = {
        placementsPerSecond: (status.placementsDone - this.previousStatus.placements) / seconds,
        samplesPerSecond: (status.samplesSent - this.previousStatus.samples) / seconds,
      };
    }
    if (!this.previousStatus || now - this.previousStatus.atMs >= 1000)
      this.previousStatus = { atMs: now, placements: status.placementsDone, samples: status.samplesSent };
    this.lastStatus = status;
    this.render();
  }

  /**
   * Events per second per service over the last readings: what its outbox relay published to Kafka (every
   * appended event is published once; not every service counts its appends in a metric).
   */
  eventsPerSecond(service: ServiceName): number {
    const list = this.readings.get(service) ?? [];
    if (list.length < 2) return 0;
    const a = list[Math.max(0, list.length - 3)];
    const b = list[list.length - 1];
    return b.atMs > a.atMs ? ((b.published - a.published) * 1000) / (b.atMs - a.atMs) : 0;
  }

  lag(service: ServiceName): number {
    return this.readings.get(service)?.at(-1)?.lag ?? 0;
  }

  /** Records the services' outboxes published since start (Kafka records written by the platform). */
  publishedSinceStart(): number {
    let total = 0;
    for (const service of SERVICES)
      total +=
        (this.readings.get(service)?.at(-1)?.published ?? 0) - (this.publishedAtStart.get(service) ?? 0);
    return total;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.poll().catch(() => undefined);
    this.render(true);
    this.multibar?.stop();
  }

  private async poll(): Promise<void> {
    await Promise.all(
      SERVICES.map(async (service) => {
        const text = await this.client.metrics(service).catch(() => '');
        if (!text) return;
        const reading: ServiceReading = {
          atMs: Date.now(),
          published: sumSeries(text, 'fleetledger_events_published_total'),
          lag: sumSeries(text, 'fleetledger_consumer_lag'),
          rssBytes: sumSeries(text, 'process_resident_memory_bytes'),
        };
        const list = this.readings.get(service) ?? [];
        list.push(reading);
        if (list.length > 10) list.shift();
        this.readings.set(service, list);
        this.peakRssBytes.set(service, Math.max(this.peakRssBytes.get(service) ?? 0, reading.rssBytes));
      }),
    );
  }

  private render(force = false): void {
    const s = this.lastStatus;
    if (!s) return;
    const progress = Math.min(1, (s.simMs - s.startMs) / (s.endMs - s.startMs));
    const ramp = RAMP_FROM + (RAMP_TO - RAMP_FROM) * progress;
    const day = ((s.simMs - s.startMs) / 86_400_000).toFixed(1);
    const services = SERVICES.map((svc) => `${svc} ${this.eventsPerSecond(svc).toFixed(0)} ev/s`).join(' | ');
    const lags = SERVICES.map((svc) => `${svc} lag ${this.lag(svc)}`).join(' | ');
    const head = `${s.phase} day ${day} | ${this.rates.placementsPerSecond.toFixed(1)} placements/s | queue ${s.queued} | rejected ${s.rejected} | ${this.rates.samplesPerSecond.toFixed(0)} samples/s`;
    if (this.multibar) {
      this.bars.get('month')!.update(Math.round(progress * 1000), { text: head });
      for (const gpuClass of GPU_CLASSES) {
        const share = s.allocated[gpuClass as GpuClass] / Math.max(s.fleet[gpuClass as GpuClass], 1);
        this.bars.get(gpuClass)!.update(Math.round(share * 100), {
          text: `${s.allocated[gpuClass as GpuClass]}/${s.fleet[gpuClass as GpuClass]} GPUs (ramp ${Math.round(ramp * 100)}%)`,
        });
      }
      this.bars.get('services')!.update(0, { text: services });
      this.bars.get('lag')!.update(0, { text: lags });
      return;
    }
    if (!force && Date.now() - this.lastLineMs < 10_000) return;
    this.lastLineMs = Date.now();
    const classes = GPU_CLASSES.map(
      (c) => `${c} ${Math.round((100 * s.allocated[c]) / Math.max(s.fleet[c], 1))}%`,
    ).join(' ');
    this.out.write(
      `[colossus] ${head} | ${classes} (ramp ${Math.round(ramp * 100)}%) | ${services} | ${lags}\n`,
    );
  }
}
