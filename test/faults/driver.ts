import { Topics } from '@fleetledger/contracts';
import {
  EVENT_COLUMNS,
  headersFor,
  StoredEventRow,
  storedEnvelope,
} from '@fleetledger/eventstore/event-store';
import { Producer } from 'kafkajs';
import { FaultPlatform, ServiceName, sleep } from './platform';
import {
  dayStartMs,
  ExpectedInvoice,
  ExpectedWindow,
  Job,
  LEASE,
  PhaseWorkload,
  PlannedSample,
  PRICES,
  RATE_PLAN,
  TENANT,
  windowKey,
} from './workload';
import { flowFleet, nodeOfGpu } from '../e2e/fleet';

/** Where in a phase a fault is injected. */
export type Stage = 'start' | 'mid-timeline' | 'placed' | 'mid-telemetry' | 'closed' | 'corrections';

interface HttpResult {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of the services' replies
}

/**
 * Drives the workload against the running platform as its callers would: HTTP to the services (with the
 * test caller's token), telemetry records on `metering.telemetry.v1` as the `telemetry` Kafka user. A
 * call that fails because its service is down or restarting is retried (bounded), as a real caller does.
 */
export class WorkloadDriver {
  private telemetry?: Producer;
  /** Restarts and the like that a fault started and the next HTTP call must wait for. */
  readonly pending: Promise<unknown>[] = [];
  /** The GPUs allocation chose for each workload. */
  readonly gpuIds = new Map<string, string[]>();

  constructor(
    private readonly platform: FaultPlatform,
    private readonly token: string,
  ) {}

  async http(
    service: ServiceName,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<HttpResult> {
    await Promise.all(this.pending.splice(0));
    const deadline = Date.now() + 90_000;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${this.platform.services.get(service)!.url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.token}`,
            'content-type': 'application/json',
            'x-tenant-id': TENANT,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        const result = { status: response.status, body: text ? JSON.parse(text) : undefined };
        if (response.status < 500) return result;
        if (Date.now() > deadline) return result;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      await sleep(Math.min(500 * attempt, 3_000));
    }
  }

  private async expect(service: ServiceName, path: string, body: unknown, ok: number[]): Promise<HttpResult> {
    const result = await this.http(service, 'POST', path, body);
    if (!ok.includes(result.status))
      throw new Error(`POST ${service}${path}: ${result.status} ${JSON.stringify(result.body)}`);
    return result;
  }

  /** The fleet, the rate plan, the lease and the quotas: everything before the first phase. */
  async setUp(): Promise<void> {
    await this.expect('inventory', '/fleet/import', flowFleet, [200]);
    const allocationKnowsFleet = async () => {
      const { body } = await this.http('allocation', 'GET', '/utilization');
      return Array.isArray(body) && body.length === 3;
    };
    for (let i = 0; i < 120 && !(await allocationKnowsFleet()); i++) await sleep(500);
    await this.expect(
      'billing',
      '/rate-plans',
      {
        plan: {
          ratePlanId: RATE_PLAN,
          version: 1,
          effectiveFrom: '2026-01-01T00:00:00.000Z',
          currency: { code: 'USD', minorUnitExponent: 2 },
          classes: [
            {
              gpuClass: 'H100',
              pricePerGpuHourMicroMinor: String(PRICES.H100),
              overagePricePerGpuHourMicroMinor: '300000000',
              committedMonthlyFeePerGpuMinor: '0',
            },
            {
              gpuClass: 'H200',
              pricePerGpuHourMicroMinor: '300000000',
              overagePricePerGpuHourMicroMinor: '360000000',
              committedMonthlyFeePerGpuMinor: '0',
            },
            {
              gpuClass: 'GB200',
              pricePerGpuHourMicroMinor: String(PRICES.GB200),
              overagePricePerGpuHourMicroMinor: '720000000',
              committedMonthlyFeePerGpuMinor: '0',
            },
          ],
          energyPricePerKwhMicroMinor: String(PRICES.energyPerKwh),
          slaCreditTiers: [{ availabilityBelowBasisPoints: 9990, creditBasisPoints: 1000 }],
          rounding: 'half-even-per-line',
        },
        publishedAt: '2026-01-01T00:00:00.000Z',
      },
      [201],
    );
    await this.expect(
      'allocation',
      '/leases',
      {
        leaseId: LEASE,
        tenantId: TENANT,
        term: { start: '2026-03-01T00:00:00.000Z', end: '2027-03-01T00:00:00.000Z' },
        committedGpus: { H100: 32, GB200: 36 },
        exclusivity: 'shared',
        ratePlanId: RATE_PLAN,
        author: 'sales',
        at: '2026-02-20T00:00:00.000Z',
      },
      [201],
    );
    await this.expect(
      'allocation',
      `/leases/${LEASE}/activate`,
      { author: 'ops', at: '2026-02-20T00:00:00.000Z' },
      [201],
    );
    for (const [gpuClass, workloadClass] of [
      ['H100', 'training'],
      ['GB200', 'inference'],
    ])
      await this.expect(
        'allocation',
        `/quotas/${TENANT}/${gpuClass}/${workloadClass}`,
        {
          change: { kind: 'set', nominal: 32, borrowLimit: 0 },
          reason: 'fault suite',
          author: 'capacity',
          at: '2026-03-01T00:00:00.000Z',
        },
        [201],
      );
    this.telemetry = this.platform
      .kafka('telemetry', 'fleetledger-faults-agent')
      .producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.telemetry.connect();
  }

  /** Submits each job at its start and releases it at its end, in time order (releases first at a tie). */
  async runTimeline(jobs: readonly Job[], midway: () => Promise<void>): Promise<void> {
    const steps = jobs
      .flatMap((job) => [
        { atMs: job.startMs, kind: 'submit' as const, job },
        { atMs: job.endMs, kind: 'release' as const, job },
      ])
      .sort((a, b) => a.atMs - b.atMs || (a.kind === b.kind ? 0 : a.kind === 'release' ? -1 : 1));
    for (const [i, step] of steps.entries()) {
      if (i === Math.floor(steps.length / 2)) await midway();
      const at = new Date(step.atMs).toISOString();
      if (step.kind === 'submit') {
        const result = await this.expect(
          'allocation',
          '/workloads',
          {
            workloadId: step.job.workloadId,
            tenantId: TENANT,
            workloadClass: step.job.workloadClass,
            gpuCount: step.job.gpuCount,
            gang: true,
            ...(step.job.gpuClass === 'GB200' ? { topology: 'same-nvlink-domain' } : {}),
            priority: 10,
            requestedAt: at,
          },
          [201, 409],
        );
        // 409: a retry of a submission whose first attempt was accepted before a crash; the first answer stands.
        const placed =
          result.status === 201
            ? result.body
            : (
                (await this.http('allocation', 'GET', `/placements?tenantId=${TENANT}`)).body as {
                  workloadId: string;
                  gpuIds: string[];
                }[]
              ).find((p) => p.workloadId === step.job.workloadId);
        if (!placed?.gpuIds || placed.outcome === 'queued')
          throw new Error(`${step.job.workloadId} was not placed: ${JSON.stringify(placed)}`);
        this.gpuIds.set(step.job.workloadId, placed.gpuIds);
      } else {
        // 404 not-placed on a retry: the first attempt released it.
        await this.expect(
          'allocation',
          `/workloads/${step.job.workloadId}/release`,
          { requestedAt: at },
          [200, 404],
        );
      }
    }
  }

  telemetryRecord(sample: PlannedSample): { key: string; value: string } {
    const gpuId = this.gpuIds.get(sample.workloadId)![sample.gpuIndex];
    return {
      key: nodeOfGpu(gpuId),
      value: JSON.stringify({
        sampleId: sample.sampleId,
        gpuId,
        nodeId: nodeOfGpu(gpuId),
        sampledAt: new Date(sample.sampledAtMs).toISOString(),
        utilization: sample.utilizationPct / 100,
        powerW: sample.powerW,
      }),
    };
  }

  /** Publishes samples in awaited sends of `chunk` records (acks=all); `midway` runs after half of them. */
  async publishTelemetry(
    samples: readonly PlannedSample[],
    options: { chunk?: number; times?: number; midway?: () => Promise<void> } = {},
  ): Promise<number> {
    const chunk = options.chunk ?? 200;
    const topic = `${this.platform.topicPrefix}${Topics.meteringTelemetry}`;
    let sent = 0;
    const chunks = Math.ceil(samples.length / chunk);
    for (let c = 0; c < chunks; c++) {
      if (c === Math.floor(chunks / 2) && options.midway) await options.midway();
      const messages = samples.slice(c * chunk, (c + 1) * chunk).map((s) => this.telemetryRecord(s));
      for (let t = 0; t < (options.times ?? 1); t++) {
        await this.sendTelemetry(topic, messages);
        sent += messages.length;
      }
    }
    return sent;
  }

  /**
   * One awaited send; a send kafkajs gave up on (a leader killed before the controller moved leadership)
   * is sent again, as an agent would: a copy that did arrive is absorbed by its sample id.
   */
  private async sendTelemetry(topic: string, messages: { key: string; value: string }[]): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await this.telemetry!.send({ topic, messages });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(1_000);
      }
    }
  }

  /** Closes every window due as of `asOfMs`; returns what the closer did. */
  async close(asOfMs: number): Promise<{ recorded: number; corrected: number }> {
    return (
      await this.expect(
        'metering',
        '/metering/windows/close',
        { asOf: new Date(asOfMs).toISOString() },
        [200],
      )
    ).body;
  }

  async sql<T>(query: string, params: unknown[] = []): Promise<T[]> {
    const db = await this.platform.db.adminDataSource();
    return db.query(query, params);
  }

  async storedSamples(day: number): Promise<number> {
    const [{ n }] = await this.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM metering.samples WHERE sample_id LIKE $1`,
      [`fault-${String(day).padStart(2, '0')}-%`],
    );
    return n;
  }

  async meteringKnowsPlacements(phase: PhaseWorkload): Promise<boolean> {
    const [{ n }] = await this.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM metering.placements WHERE workload_id = ANY($1::text[]) AND end_at IS NOT NULL`,
      [phase.jobs.map((j) => j.workloadId)],
    );
    return n === phase.jobs.length;
  }

  /** Usage windows of the lease as metering holds them, keyed like the expectation. */
  async usage(): Promise<Map<string, ExpectedWindow>> {
    const rows = await this.sql<{
      lease_id: string;
      gpu_class: string;
      hour_start: Date;
      gpu_ms_allocated: string;
      busy_ms: string;
      energy_mwh: string;
      sample_count: string;
    }>(`SELECT * FROM metering.usage_by_record WHERE lease_id = $1`, [LEASE]);
    return new Map(
      rows.map((r) => {
        const w: ExpectedWindow = {
          leaseId: r.lease_id,
          gpuClass: r.gpu_class,
          hourStart: r.hour_start.toISOString(),
          gpuMsAllocated: Number(r.gpu_ms_allocated),
          busyMs: Number(r.busy_ms),
          energyMilliWh: Number(r.energy_mwh),
          sampleCount: Number(r.sample_count),
        };
        return [windowKey(w), w];
      }),
    );
  }

  /** The month's invoice as billing shows it: lineId -> [quantity, amountMinor], and the total. */
  async invoice(): Promise<ExpectedInvoice | undefined> {
    const result = await this.http('billing', 'GET', `/invoices/${TENANT}.2026-03`).catch(() => undefined);
    if (result?.status !== 200) return undefined;
    const lines = result.body.lines as { lineId: string; quantity: string; amountMinor: string }[];
    return {
      lines: Object.fromEntries(lines.map((l) => [l.lineId, [l.quantity, l.amountMinor]])),
      totalMinor: result.body.totalMinor,
    };
  }

  /**
   * The draft as a tenant polling it would see it now (direct, 3 s bound: never waits for a restart);
   * `complete` and `coveredUntil` where billing reports completeness (#22), else undefined.
   */
  async draftSample(): Promise<
    { totalMinor: bigint; complete?: boolean; coveredUntil?: string } | undefined
  > {
    const response = await fetch(`${this.platform.services.get('billing')!.url}/invoices/${TENANT}.2026-03`, {
      headers: { authorization: `Bearer ${this.token}`, 'x-tenant-id': TENANT },
      signal: AbortSignal.timeout(3_000),
    }).catch(() => undefined);
    if (response?.status !== 200) return undefined;
    const body = (await response.json()) as { totalMinor: string; complete?: boolean; coveredUntil?: string };
    return { totalMinor: BigInt(body.totalMinor), complete: body.complete, coveredUntil: body.coveredUntil };
  }

  /**
   * Telemetry records metering found already stored (its `duplicate` counter): redeliveries after a crash
   * and resent records alike. The counter lives in the process, so it starts again at 0 after a restart.
   */
  async meteringDuplicates(): Promise<number> {
    const response = await fetch(`${this.platform.services.get('metering')!.url}/metrics`, {
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    if (!response?.ok) return 0;
    const line = (await response.text())
      .split('\n')
      .find((l) => l.startsWith('fleetledger_metering_samples_total{') && l.includes('outcome="duplicate"'));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  /** Dead letters recorded by every consumer of every service. */
  async deadLetters(): Promise<number> {
    let n = 0;
    for (const schema of ['inventory', 'allocation', 'metering', 'billing'])
      n += (await this.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.dead_letters`))[0].n;
    return n;
  }

  /** Inbox rows (domain events taken in) plus stored samples: the platform's work, for "processed during". */
  async workDone(): Promise<number> {
    let n = (await this.sql<{ n: number }>(`SELECT count(*)::int AS n FROM metering.samples`))[0].n;
    for (const schema of ['allocation', 'metering', 'billing'])
      n += (await this.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.inbox`))[0].n;
    return n;
  }

  /**
   * Re-publishes a seeded `share` of every service's published domain events, byte for byte, as the
   * service's own Kafka user: what a relay that crashed between publish and mark would do, at scale.
   */
  async republishDomainEvents(share: number, seed: number): Promise<number> {
    let sent = 0;
    let x = seed;
    const chosen = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x / 4294967296 < share;
    };
    for (const service of ['inventory', 'allocation', 'metering', 'billing'] as const) {
      // A compact outbox row (issue #19) names its event by position: the message is the event row, as the
      // relay builds it (libs/eventstore/src/outbox-relay.ts); rows written before carry their message.
      const rows = (
        await this.sql<
          {
            topic: string;
            message_key: string;
            message: unknown;
            headers: Record<string, string> | null;
          } & StoredEventRow
        >(
          `SELECT o.topic, o.message_key, o.message, o.headers, ${EVENT_COLUMNS.split(', ')
            .map((c) => `e.${c}`)
            .join(', ')}
             FROM ${service}.outbox o
             LEFT JOIN ${service}.events e ON o.message IS NULL AND e.global_position = o.global_position
            WHERE o.published_at IS NOT NULL ORDER BY o.id`,
        )
      ).map((row) => {
        if (row.message !== null) return row;
        const envelope = storedEnvelope(row);
        return { ...row, message: envelope, headers: headersFor(envelope) };
      });
      const picked = rows.filter(chosen);
      if (picked.length === 0) continue;
      const producer = this.platform.kafka(service, `fleetledger-faults-replay-${service}`).producer();
      await producer.connect();
      try {
        for (let i = 0; i < picked.length; i += 200)
          await producer.sendBatch({
            topicMessages: picked.slice(i, i + 200).map((row) => ({
              topic: row.topic,
              messages: [
                { key: row.message_key, value: JSON.stringify(row.message), headers: row.headers ?? {} },
              ],
            })),
          });
      } finally {
        await producer.disconnect();
      }
      sent += picked.length;
    }
    return sent;
  }

  async stop(): Promise<void> {
    await this.telemetry?.disconnect().catch(() => undefined);
  }
}

export function nextDayMs(day: number, minutes: number): number {
  return dayStartMs(day + 1) + minutes * 60_000;
}
