// A month of the whole platform at scale, appended straight into the four services' logs (and the inboxes
// that inbox-sourced projections read), for the replay benchmark. Not a simulation of the services' rules:
// payloads are contract-valid (every type is parsed with its service's registry, every event validated on
// append) and shaped like what the services write, in the proportions a month of the platform has.
//
//   inventory   the Colossus fleet import (site, halls, racks, NodesCommissioned), then the month's GPU health
//               reports, node drains/undrains, a few decommissions and power budget changes, through the real
//               command handler;
//   allocation  routing policy, quotas per tenant x GPU class x workload class (some doubled mid-month),
//               leases signed/activated (a few amended/terminated), ~8 workloads per lease per day
//               (submitted, sometimes queued, placed on GPUs of the fleet, released or preempted);
//   metering    one UsageRecorded per lease x GPU class x hour, 0.5 % of them corrected later (UsageCorrected);
//   billing     a rate plan and a draft invoice per tenant, two ChargeRated (gpu-usage, energy) per usage
//               record and per correction, and at month end a number and an InvoiceFinalized per tenant whose
//               lines carry every source event id; a few credit notes.
//
// Inventory's events are also written to the inbox of each consumer an inbox-sourced projection reads,
// the way InboxConsumer stores them (one row per event of the topic, envelope as received).
import { v7 as uuidv7 } from 'uuid';
import {
  allocation,
  billing,
  EventEnvelope,
  metering,
  mulberry32,
  NewEvent,
  topicName,
  Topics,
  servicePrincipal,
} from '@fleetledger/contracts';
import { EventStore, ident, runInTransaction } from '@fleetledger/eventstore';
import type { ServiceOptions } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { generateColossusFleet } from '../../apps/inventory/src/domain/colossus-generator';
import { countGpus, FleetDescription } from '../../apps/inventory/src/domain/fleet-description';
import { InventoryCommand } from '../../apps/inventory/src/domain/commands';
import { InventoryCommandHandler } from '../../apps/inventory/src/handlers/inventory-command.handler';
import { importFleet } from '../../apps/inventory/src/import/fleet-import';

export interface MonthOptions {
  /** Events to aim for across the four logs; the number of leases is derived from it. */
  events: number;
  /** YYYY-MM, UTC. */
  month: string;
  /** Fraction of the Colossus fleet (1 = ~220,000 GPUs). */
  inventoryScale: number;
  seed: number;
  /** Events per append transaction. */
  appendBatch: number;
  onProgress?: (line: string) => void;
}

export interface SeedSummary {
  leases: number;
  tenants: number;
  gpus: number;
  hours: number;
  /** Per service: event type -> count. */
  eventsByService: Map<string, Map<string, number>>;
  /** `<schema>.inbox` consumer -> rows written. */
  inboxRows: Map<string, number>;
  totalEvents: number;
  seconds: number;
}

/** Which topics each consumer subscribes to (the consumers' registrations in apps/ say so). */
const CONSUMER_TOPICS: Record<string, string[]> = {
  'allocation-inventory': [Topics.inventoryEvents],
  'billing-fleet-health': [Topics.inventoryEvents],
  'billing-usage': [Topics.meteringEvents, Topics.allocationEvents],
  'metering-fleet': [Topics.inventoryEvents],
};

const GPU_CLASSES = ['H100', 'H200', 'GB200'] as const;
type GpuClass = (typeof GPU_CLASSES)[number];
const WORKLOAD_CLASSES = allocation.WORKLOAD_CLASSES;
const JOBS_PER_LEASE_PER_DAY = 8;
const CORRECTED_SHARE = 0.005;
const PRICE_PER_GPU_HOUR: Record<GpuClass, bigint> = {
  H100: 249_000_000n,
  H200: 310_000_000n,
  GB200: 450_000_000n,
};
const ENERGY_PER_KWH = 8_000_000n;
const USD = { code: 'USD', minorUnitExponent: 2 };
const HOUR_MS = 3_600_000;

const milli = (value: bigint) => `${value / 1000n}.${(value % 1000n).toString().padStart(3, '0')}`;

/** Writes inbox rows for one consumer the way InboxConsumer does (topic, partition by key, offsets). */
class InboxWriter {
  private readonly offsets = new Map<number, number>();
  rows = 0;

  constructor(
    private readonly schema: string,
    readonly consumer: string,
    private readonly topic: string,
    private readonly partitions = 6,
  ) {}

  async write(dataSource: DataSource, envelopes: readonly EventEnvelope[]): Promise<void> {
    if (envelopes.length === 0) return;
    const partitions = envelopes.map((e) => partitionOf(e.streamId, this.partitions));
    const offsets = partitions.map((p) => {
      const next = this.offsets.get(p) ?? 0;
      this.offsets.set(p, next + 1);
      return next;
    });
    // One JSON document rather than a jsonb[] parameter: node-postgres escapes every element into an
    // array literal, several times slower for big payloads.
    await dataSource.query(
      `INSERT INTO ${ident(this.schema)}.inbox (consumer, event_id, topic, partition, kafka_offset, envelope)
       SELECT $1, (v->>'eventId')::uuid, $2, p, o, v
         FROM ROWS FROM (jsonb_array_elements($3::jsonb), unnest($4::int[]), unnest($5::bigint[])) AS t(v, p, o)`,
      [this.consumer, this.topic, JSON.stringify(envelopes), partitions, offsets],
    );
    this.rows += envelopes.length;
  }
}

function partitionOf(key: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return Math.abs(h) % partitions;
}

/** Buffers one service's events and appends them in big batches; mirrors them into subscribed inboxes. */
class LogWriter {
  private buffer: { streamId: string; event: NewEvent }[] = [];
  private inFlight: Promise<void> = Promise.resolve();
  private readonly checkedTypes = new Set<string>();
  readonly counts = new Map<string, number>();
  readonly store: EventStore;

  constructor(
    private readonly dataSource: DataSource,
    readonly service: ServiceOptions,
    private readonly batch: number,
    readonly inboxes: InboxWriter[],
  ) {
    this.store = new EventStore(service.schema, service.registry, {
      principal: () => servicePrincipal('bench'),
    });
  }

  async push(streamId: string, event: NewEvent): Promise<void> {
    this.check(event);
    this.buffer.push({ streamId, event });
    if (this.buffer.length >= this.batch) await this.flush();
  }

  /** Parses the first event of each type with the service's registry, so a bad shape fails with its reason. */
  check(event: NewEvent): void {
    this.counts.set(event.type, (this.counts.get(event.type) ?? 0) + 1);
    if (this.checkedTypes.has(event.type)) return;
    const definition = this.service.registry.definition(event.type);
    const parsed = this.service.registry.parsePayload(
      event.type,
      definition?.schemaVersion ?? 1,
      event.payload,
    );
    if (!parsed.ok) throw new Error(`${this.service.service}: ${event.type} is not valid: ${parsed.detail}`);
    this.checkedTypes.add(event.type);
  }

  /**
   * Starts appending the buffer and returns once the PREVIOUS append of this log is done, so the next
   * batch is generated while Postgres stores this one (appends of one log stay in order).
   */
  async flush(): Promise<void> {
    await this.inFlight;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.inFlight = this.append(batch);
    this.inFlight.catch(() => undefined); // awaited (and thrown) by the next flush or finish
  }

  /** Appends what is left and waits for it. */
  async finish(): Promise<void> {
    await this.flush();
    await this.inFlight;
  }

  private async append(batch: { streamId: string; event: NewEvent }[]): Promise<void> {
    const envelopes = await runInTransaction(this.dataSource, (tx) =>
      this.store.appendToStreams(
        tx,
        batch.map(({ streamId, event }) => ({ streamId, expectedVersion: 'any' as const, events: [event] })),
        { correlationId: 'bench-month' },
      ),
    );
    for (const inbox of this.inboxes) await inbox.write(this.dataSource, envelopes);
  }

  total(): number {
    let n = 0;
    for (const count of this.counts.values()) n += count;
    return n;
  }
}

interface Lease {
  leaseId: string;
  tenantId: string;
  ratePlanId: string;
  classes: GpuClass[];
  committed: Partial<Record<GpuClass, number>>;
}

interface Usage {
  eventId: string;
  lease: Lease;
  gpuClass: GpuClass;
  hourStart: string;
  allocatedMilli: bigint;
  energyMilli: bigint;
}

/** Events of one lease in a month, roughly: what `events` is divided by to get the number of leases. */
function eventsPerLease(hours: number): number {
  const classes = 1.25;
  const usage = hours * classes * (1 + 2) * (1 + CORRECTED_SHARE);
  const jobs = (hours / 24) * JOBS_PER_LEASE_PER_DAY * 3.1;
  return usage + jobs + 8;
}

/** Appends a generated month of the platform into the four services' schemas of one database. */
export async function seedPlatformMonth(
  dataSource: DataSource,
  services: ServiceOptions[],
  options: MonthOptions,
): Promise<SeedSummary> {
  const started = Date.now();
  const say = options.onProgress ?? (() => undefined);
  const random = mulberry32(options.seed);
  const byName = new Map(services.map((s) => [s.service, s]));
  const service = (name: string) => {
    const found = byName.get(name);
    if (!found) throw new Error(`no service ${name} among the audited services`);
    return found;
  };

  // Every inbox an inbox-sourced projection reads, fed from the logs of the topics its consumer reads.
  const inboxesByTopic = new Map<string, InboxWriter[]>();
  for (const s of services) {
    for (const projection of s.projections ?? []) {
      if (projection.source.kind !== 'inbox') continue;
      const consumer = projection.source.consumer;
      let topics = CONSUMER_TOPICS[consumer];
      if (!topics) {
        // Unknown consumer: every event topic its service consumes (a real inbox holds every event of
        // each topic its consumer subscribes to). Add it to CONSUMER_TOPICS to be exact.
        topics = (s.consumedTopics ?? []).filter((t) => services.some((p) => p.eventsTopic === t));
        say(`warning: consumer ${consumer} not in CONSUMER_TOPICS; its inbox gets ${topics.join(', ')}`);
      }
      for (const topic of topics) {
        const writers = inboxesByTopic.get(topic) ?? [];
        if (!writers.some((w) => w.consumer === consumer))
          writers.push(new InboxWriter(s.schema, consumer, topicName(topic, '')));
        inboxesByTopic.set(topic, writers);
      }
    }
  }
  const inboxesOf = (s: ServiceOptions) => inboxesByTopic.get(s.eventsTopic) ?? [];
  const writer = (name: string) =>
    new LogWriter(dataSource, service(name), options.appendBatch, inboxesOf(service(name)));
  const alloc = writer('allocation');
  const meter = writer('metering');
  const bill = writer('billing');

  const monthStart = Date.parse(`${options.month}-01T00:00:00.000Z`);
  const [year, month] = options.month.split('-').map(Number);
  const hours = Math.round((Date.UTC(year, month, 1) - monthStart) / HOUR_MS);
  const at = (hour: number, minute = 0) =>
    new Date(monthStart + hour * HOUR_MS + minute * 60_000).toISOString();

  // ---- inventory: the fleet import, then the month's health, drains and power changes (real handler)
  const inventoryService = service('inventory');
  const inventoryStore = new EventStore(inventoryService.schema, inventoryService.registry, {
    principal: () => servicePrincipal('bench'),
  });
  const handler = new InventoryCommandHandler(
    dataSource,
    inventoryStore,
    topicName(Topics.inventoryEvents, ''),
  );
  const inventoryCounts = new Map<string, number>();
  const mirrorInventory = async (envelopes: readonly EventEnvelope[]) => {
    for (const e of envelopes) inventoryCounts.set(e.type, (inventoryCounts.get(e.type) ?? 0) + 1);
    for (const inbox of inboxesOf(inventoryService)) await inbox.write(dataSource, envelopes);
  };
  const fleet: FleetDescription = generateColossusFleet({
    seed: options.seed,
    scale: options.inventoryScale,
  });
  let t = Date.now();
  let lastPosition = 0;
  await importFleet(handler, fleet, { correlationId: 'bench-import', occurredAt: at(0) }, { batchSize: 250 });
  for (;;) {
    const envelopes = await inventoryStore.readAll(dataSource, lastPosition, 5000);
    if (envelopes.length === 0) break;
    await mirrorInventory(envelopes);
    lastPosition = envelopes[envelopes.length - 1].globalPosition;
  }
  say(`inventory: fleet of ${countGpus(fleet)} GPUs imported in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const gpusByClass = new Map<GpuClass, string[]>(GPU_CLASSES.map((c) => [c, []]));
  const nodeIds: string[] = [];
  for (const rack of fleet.racks) {
    for (const node of rack.nodes) {
      nodeIds.push(node.nodeId);
      for (const gpu of node.gpus) gpusByClass.get(rack.gpuClass)!.push(gpu.gpuId);
    }
  }
  const allGpus = [...gpusByClass.values()].flat();
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];

  // ~0.1 % of GPUs fail per day and come back a day later; ~0.01 % of nodes drained per day, undrained
  // the next; a decommission every few days; a power budget change a week.
  t = Date.now();
  const failuresPerDay = Math.max(1, Math.round(allGpus.length * 0.001));
  const drainsPerDay = Math.max(1, Math.round(nodeIds.length * 0.0005));
  const decommissioned = new Set<string>();
  const failedYesterday: string[] = [];
  const drainedYesterday: string[] = [];
  for (let day = 0; day < hours / 24; day++) {
    const commands: InventoryCommand[] = [];
    for (const gpuId of failedYesterday.splice(0))
      commands.push({ kind: 'report-gpu-health', body: { gpuId, health: 'healthy', reason: 'repaired' } });
    for (const nodeId of drainedYesterday.splice(0))
      commands.push({ kind: 'undrain-node', body: { nodeId, reason: 'maintenance done' } });
    for (let i = 0; i < failuresPerDay; i++) {
      const gpuId = pick(allGpus);
      const health = random() < 0.7 ? 'failed' : 'degraded';
      commands.push({
        kind: 'report-gpu-health',
        body: { gpuId, health, reason: 'xid 79: fell off the bus' },
      });
      failedYesterday.push(gpuId);
    }
    for (let i = 0; i < drainsPerDay; i++) {
      const nodeId = pick(nodeIds);
      if (decommissioned.has(nodeId)) continue;
      commands.push({ kind: 'drain-node', body: { nodeId, reason: 'firmware update' } });
      drainedYesterday.push(nodeId);
    }
    if (day % 4 === 3) {
      const nodeId = pick(nodeIds);
      if (!drainedYesterday.includes(nodeId) && !decommissioned.has(nodeId)) {
        decommissioned.add(nodeId);
        commands.push({ kind: 'decommission-node', body: { nodeId, reason: 'board replaced by vendor' } });
      }
    }
    if (day % 7 === 6) {
      const rack = pick(fleet.racks);
      commands.push({
        kind: 'change-power-budget',
        body: { scope: 'rack', scopeId: rack.rackId, budgetW: rack.powerBudgetW + 1000, reason: 'new PDU' },
      });
    }
    const result = await handler.executeBatch(
      commands,
      { correlationId: `bench-ops-${day}`, occurredAt: at(day * 24 + 6) },
      { atomic: false },
    );
    await mirrorInventory(result.events);
  }
  say(`inventory: month of fleet operations in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const inventoryTotal = [...inventoryCounts.values()].reduce((a, b) => a + b, 0);

  // ---- tenants and leases: as many as it takes to reach `events`
  const leaseCount = Math.max(3, Math.round((options.events - inventoryTotal) / eventsPerLease(hours)));
  const tenantCount = Math.max(1, Math.ceil(leaseCount / 2));
  const fleetShare = new Map<GpuClass, number>();
  const leases: Lease[] = [];
  for (let i = 0; i < leaseCount; i++) {
    const classes: GpuClass[] =
      i % 4 === 3 ? [GPU_CLASSES[i % 3], GPU_CLASSES[(i + 1) % 3]] : [GPU_CLASSES[i % 3]];
    for (const c of classes) fleetShare.set(c, (fleetShare.get(c) ?? 0) + 1);
    const tenantId = `tenant-${String(Math.floor(i / 2)).padStart(4, '0')}`;
    leases.push({
      leaseId: `lease-${String(i).padStart(5, '0')}`,
      tenantId,
      ratePlanId: `plan-${tenantId}`,
      classes,
      committed: {},
    });
  }
  for (const lease of leases) {
    for (const c of lease.classes) {
      const fair = Math.floor((gpusByClass.get(c)!.length * 0.9) / fleetShare.get(c)!);
      lease.committed[c] = Math.max(8, Math.min(8192, fair - (fair % 8)));
    }
  }
  const tenants = [...new Set(leases.map((l) => l.tenantId))];
  const periodEnd = new Date(Date.UTC(year, month, 1)).toISOString();

  t = Date.now();
  // allocation: routing policy, quotas, leases
  const routes = {
    inference: ['GB200', 'H200', 'H100'],
    agentic: ['H200', 'GB200', 'H100'],
    training: ['H100', 'H200', 'GB200'],
  } as allocation.Routes;
  await alloc.push(allocation.AllocationStreams.routingPolicy, {
    type: allocation.RoutingPolicyChanged.type,
    occurredAt: at(0),
    payload: { routes, previous: routes, changedAt: at(0), reason: 'default routing', author: 'ops' },
  });
  const quota = new Map<string, number>();
  for (const lease of leases) {
    for (const c of lease.classes) {
      for (const w of WORKLOAD_CLASSES) {
        const nominal = lease.committed[c]!;
        quota.set(`${lease.tenantId}/${c}/${w}`, nominal);
        await alloc.push(allocation.AllocationStreams.quota(lease.tenantId), {
          type: allocation.QuotaChanged.type,
          occurredAt: at(0),
          payload: {
            tenantId: lease.tenantId,
            gpuClass: c,
            workloadClass: w,
            nominal,
            borrowLimit: nominal / 4,
            previous: { nominal: 0, borrowLimit: 0 },
            change: { kind: 'set' },
            changedAt: at(0),
            reason: 'lease signed',
            author: 'sales-ops',
          },
        });
      }
    }
    await alloc.push(allocation.AllocationStreams.leaseBook, {
      type: allocation.LeaseSigned.type,
      occurredAt: at(0),
      payload: {
        leaseId: lease.leaseId,
        tenantId: lease.tenantId,
        term: { start: at(0), end: periodEnd },
        committedGpus: lease.committed,
        exclusivity: 'shared',
        scope: { hallIds: [], rackIds: [] },
        ratePlanId: lease.ratePlanId,
        signedAt: at(0),
        author: 'sales-ops',
      },
    });
    await alloc.push(allocation.AllocationStreams.leaseBook, {
      type: allocation.LeaseActivated.type,
      occurredAt: at(0),
      payload: { leaseId: lease.leaseId, tenantId: lease.tenantId, activatedAt: at(0), author: 'sales-ops' },
    });
  }

  // billing: a rate plan and a draft invoice per tenant
  const period = options.month;
  const invoiceIdOf = (tenantId: string) => `${tenantId}.${period}`;
  for (const tenantId of tenants) {
    await bill.push(`rate-plan-plan-${tenantId}`, {
      type: billing.RatePlanPublished.type,
      occurredAt: at(0),
      payload: {
        ratePlanId: `plan-${tenantId}`,
        version: 1,
        effectiveFrom: at(0),
        currency: USD,
        classes: GPU_CLASSES.map((gpuClass) => ({
          gpuClass,
          pricePerGpuHourMicroMinor: PRICE_PER_GPU_HOUR[gpuClass].toString(),
          overagePricePerGpuHourMicroMinor: ((PRICE_PER_GPU_HOUR[gpuClass] * 5n) / 4n).toString(),
          committedMonthlyFeePerGpuMinor: '150000',
        })),
        energyPricePerKwhMicroMinor: ENERGY_PER_KWH.toString(),
        slaCreditTiers: [
          { availabilityBelowBasisPoints: 9990, creditBasisPoints: 1000 },
          { availabilityBelowBasisPoints: 9900, creditBasisPoints: 2500 },
        ],
        rounding: 'half-even-per-line',
      },
    });
    await bill.push(`invoice-${invoiceIdOf(tenantId)}`, {
      type: billing.InvoiceDrafted.type,
      occurredAt: at(0),
      payload: { invoiceId: invoiceIdOf(tenantId), tenantId, period, currency: USD },
    });
  }

  // ---- the month, hour by hour
  const allocLater = new Map<number, { streamId: string; event: NewEvent }[]>();
  const meterLater = new Map<number, Usage[]>();
  const later = <T>(map: Map<number, T[]>, hour: number, item: T) => {
    const h = Math.min(hour, hours - 1);
    const items = map.get(h);
    if (items) items.push(item);
    else map.set(h, [item]);
  };
  const lines = new Map<string, { allocated: bigint; energy: bigint; ids: string[] }>();
  let workloadSeq = 0;
  const sizes = [8, 8, 8, 8, 16, 16, 32, 32, 64, 128, 256];

  /** Rates usage (or a correction, `adjusting`) into a gpu-usage and an energy charge, as billing does. */
  const chargesFor = async (usage: Usage, chargeIdPrefix: string, adjusting: boolean) => {
    const { lease, gpuClass, hourStart } = usage;
    const base = metering.usageRecordId(lease.leaseId, gpuClass, hourStart);
    for (const kind of ['gpu-usage', 'energy'] as const) {
      await bill.push(`invoice-${invoiceIdOf(lease.tenantId)}`, {
        type: billing.ChargeRated.type,
        occurredAt: hourStart,
        payload: {
          chargeId: `${chargeIdPrefix}:${kind}`,
          invoiceId: invoiceIdOf(lease.tenantId),
          tenantId: lease.tenantId,
          leaseId: lease.leaseId,
          period,
          kind,
          gpuClass,
          usageHourStart: hourStart,
          quantity: (kind === 'gpu-usage' ? usage.allocatedMilli : usage.energyMilli).toString(),
          quantityUnit: kind === 'gpu-usage' ? 'milli-gpu-second' : 'milli-watt-hour',
          unitPriceMicroMinor: (kind === 'gpu-usage'
            ? PRICE_PER_GPU_HOUR[gpuClass]
            : ENERGY_PER_KWH
          ).toString(),
          ...(kind === 'gpu-usage'
            ? { overageUnitPriceMicroMinor: ((PRICE_PER_GPU_HOUR[gpuClass] * 5n) / 4n).toString() }
            : {}),
          ratePlanId: lease.ratePlanId,
          ratePlanVersion: 1,
          currency: USD,
          ...(adjusting ? { adjustsChargeId: `${base}:${kind}` } : {}),
          sourceEventIds: [usage.eventId],
        },
      });
    }
    const key = `${lease.tenantId}|${lease.leaseId}|${gpuClass}`;
    const line = lines.get(key) ?? { allocated: 0n, energy: 0n, ids: [] };
    line.allocated += usage.allocatedMilli;
    line.energy += usage.energyMilli;
    line.ids.push(usage.eventId);
    lines.set(key, line);
  };

  for (let hour = 0; hour < hours; hour++) {
    const hourStart = at(hour);

    // allocation: workloads submitted this hour (and the releases due now)
    for (const lease of leases) {
      if (random() >= JOBS_PER_LEASE_PER_DAY / 24) continue;
      const gpuClass = pick(lease.classes);
      const workloadClass = pick(WORKLOAD_CLASSES);
      const workloadId = `wl-${(workloadSeq++).toString(36)}`;
      const gpuCount = Math.min(pick(sizes), lease.committed[gpuClass]!);
      const pool = gpusByClass.get(gpuClass)!;
      const first = Math.floor(random() * (pool.length - gpuCount));
      const gpuIds = pool.slice(first, first + gpuCount);
      const nodes = [...new Set(gpuIds.map((g) => g.slice(0, g.lastIndexOf('-'))))];
      const racks = [...new Set(nodes.map((n) => n.slice(0, n.lastIndexOf('-'))))];
      const priority = Math.floor(random() * 100);
      const ledger = allocation.AllocationStreams.placementLedger;
      const base = { workloadId, tenantId: lease.tenantId, workloadClass };
      await alloc.push(ledger, {
        type: allocation.WorkloadSubmitted.type,
        occurredAt: at(hour, 1),
        payload: {
          ...base,
          leaseId: lease.leaseId,
          gpuCount,
          gang: true,
          topology: 'any',
          priority,
          submittedAt: at(hour, 1),
        },
      });
      const fate = random();
      if (fate < 0.01) {
        await alloc.push(ledger, {
          type: allocation.WorkloadRejected.type,
          occurredAt: at(hour, 1),
          payload: {
            ...base,
            reason: 'quota',
            detail: 'over nominal and borrow limit',
            rejectedAt: at(hour, 1),
          },
        });
        continue;
      }
      let placedHour = hour;
      if (fate < 0.06) {
        await alloc.push(ledger, {
          type: allocation.WorkloadQueued.type,
          occurredAt: at(hour, 1),
          payload: {
            ...base,
            gpuCount,
            priority,
            reason: 'capacity',
            detail: 'no free gang',
            queuedAt: at(hour, 1),
          },
        });
        placedHour = hour + 1;
      }
      const placementId = `pl-${workloadId}`;
      const placed = {
        ...base,
        placementId,
        leaseId: lease.leaseId,
        gpuClass,
        gpuIds,
        nodeIds: nodes,
        rackIds: racks,
        priority,
        borrowed: false,
        placedAt: at(placedHour, 2),
      };
      const placedEvent = {
        type: allocation.WorkloadPlaced.type,
        occurredAt: at(placedHour, 2),
        payload: placed,
      };
      if (placedHour === hour) await alloc.push(ledger, placedEvent);
      else later(allocLater, placedHour, { streamId: ledger, event: placedEvent });
      const end = {
        workloadId,
        placementId,
        tenantId: lease.tenantId,
        leaseId: lease.leaseId,
        gpuClass,
        gpuIds,
      };
      const endHour = placedHour + 1 + Math.floor(random() * 6);
      const ended: NewEvent =
        random() < 0.01
          ? {
              type: allocation.WorkloadPreempted.type,
              occurredAt: at(endHour, 3),
              payload: { ...end, preemptedAt: at(endHour, 3), preemptedBy: 'wl-urgent', cause: 'priority' },
            }
          : {
              type: allocation.WorkloadReleased.type,
              occurredAt: at(endHour, 3),
              payload: { ...end, releasedAt: at(endHour, 3) },
            };
      later(allocLater, endHour, { streamId: ledger, event: ended });
    }
    for (const { streamId, event } of allocLater.get(hour) ?? []) await alloc.push(streamId, event);
    allocLater.delete(hour);
    if (hour === 9 * 24) {
      // "Claude Code limits x2": a tenth of the tenants get their inference quotas doubled.
      for (const [key, nominal] of quota) {
        const [tenantId, gpuClass, workloadClass] = key.split('/');
        if (workloadClass !== 'inference' || Number(tenantId.slice(-4)) % 10 !== 0) continue;
        quota.set(key, nominal * 2);
        await alloc.push(allocation.AllocationStreams.quota(tenantId), {
          type: allocation.QuotaChanged.type,
          occurredAt: hourStart,
          payload: {
            tenantId,
            gpuClass: gpuClass as GpuClass,
            workloadClass: 'inference',
            nominal: nominal * 2,
            borrowLimit: nominal / 2,
            previous: { nominal, borrowLimit: nominal / 4 },
            change: { kind: 'multiply', factor: 2 },
            changedAt: hourStart,
            reason: 'Claude Code limits x2',
            author: 'capacity-planning',
          },
        });
      }
    }

    // metering: the usage records of the hour that just closed, and corrections of earlier hours
    if (hour > 0) {
      const closed = at(hour - 1);
      for (const lease of leases) {
        for (const gpuClass of lease.classes) {
          const committed = BigInt(lease.committed[gpuClass]!);
          const busyShare = BigInt(600 + Math.floor(random() * 400));
          const allocatedMilli = (committed * 3_600_000n * BigInt(850 + Math.floor(random() * 150))) / 1000n;
          const busyMilli = (allocatedMilli * busyShare) / 1000n;
          const energyMilli = (allocatedMilli * 700n) / 3600n;
          const usage: Usage = {
            eventId: uuidv7(),
            lease,
            gpuClass,
            hourStart: closed,
            allocatedMilli,
            energyMilli,
          };
          const recordId = metering.usageRecordId(lease.leaseId, gpuClass, closed);
          await meter.push(metering.usageRecordStreamId(recordId), {
            type: metering.UsageRecorded.type,
            eventId: usage.eventId,
            occurredAt: at(hour, 5),
            payload: {
              usageRecordId: recordId,
              leaseId: lease.leaseId,
              tenantId: lease.tenantId,
              gpuClass,
              hourStart: closed,
              closedAt: at(hour, 5),
              sources: {
                sampleDigest: Math.floor(random() * 2 ** 52)
                  .toString(16)
                  .padStart(16, '0')
                  .slice(0, 16),
                placementEventIds: [uuidv7(), uuidv7()],
              },
              gpuSecondsAllocated: milli(allocatedMilli),
              gpuSecondsBusy: milli(busyMilli),
              energyWh: milli(energyMilli),
              sampleCount: Number(committed) * 360,
            },
          });
          await chargesFor(usage, recordId, false);
          if (random() < CORRECTED_SHARE) later(meterLater, hour + 2, usage);
        }
      }
      for (const original of meterLater.get(hour) ?? []) {
        const { lease, gpuClass, hourStart: recordHour } = original;
        const recordId = metering.usageRecordId(lease.leaseId, gpuClass, recordHour);
        const deltaAllocated = 36_000_000n;
        const deltaEnergy = (deltaAllocated * 700n) / 3600n;
        const correction: Usage = {
          eventId: uuidv7(),
          lease,
          gpuClass,
          hourStart: recordHour,
          allocatedMilli: deltaAllocated,
          energyMilli: deltaEnergy,
        };
        await meter.push(metering.usageRecordStreamId(recordId), {
          type: metering.UsageCorrected.type,
          eventId: correction.eventId,
          occurredAt: at(hour, 5),
          payload: {
            usageCorrectionId: `${recordId}#1`,
            usageRecordId: recordId,
            correctionSeq: 1,
            leaseId: lease.leaseId,
            tenantId: lease.tenantId,
            gpuClass,
            hourStart: recordHour,
            reason: 'late-samples',
            correctedAt: at(hour, 5),
            delta: {
              gpuSecondsAllocated: milli(deltaAllocated),
              gpuSecondsBusy: milli(deltaAllocated / 2n),
              energyWh: milli(deltaEnergy),
              sampleCount: 100,
            },
            totalsAfter: {
              gpuSecondsAllocated: milli(original.allocatedMilli + deltaAllocated),
              gpuSecondsBusy: milli(original.allocatedMilli / 2n),
              energyWh: milli(original.energyMilli + deltaEnergy),
              sampleCount: 100,
            },
            sources: { sampleDigest: '00000000000000ff', placementEventIds: [] },
          },
        });
        await chargesFor(correction, `${recordId}#1`, true);
      }
      meterLater.delete(hour);
    }
    if (hour % 24 === 23) say(`month: day ${(hour + 1) / 24} of ${hours / 24} appended`);
  }

  // ---- month end: invoice numbers and final invoices (lines carry every source event id), credit notes
  const finalizedAt = periodEnd;
  let invoiceNumber = 0;
  let creditNoteNumber = 0;
  for (const tenantId of tenants) {
    const invoiceId = invoiceIdOf(tenantId);
    const invoiceLines: billing.InvoiceLine[] = [];
    for (const [key, line] of lines) {
      const [owner, leaseId, gpuClass] = key.split('|');
      if (owner !== tenantId) continue;
      const price = PRICE_PER_GPU_HOUR[gpuClass as GpuClass];
      invoiceLines.push({
        lineId: `${leaseId}:${gpuClass}:gpu-usage`,
        leaseId,
        kind: 'gpu-usage',
        gpuClass,
        quantity: line.allocated.toString(),
        quantityUnit: 'milli-gpu-second',
        unitPriceMicroMinor: price.toString(),
        amountMinor: ((line.allocated * price) / 3_600_000_000_000n).toString(),
        sourceEventIds: line.ids,
      });
      invoiceLines.push({
        lineId: `${leaseId}:${gpuClass}:energy`,
        leaseId,
        kind: 'energy',
        gpuClass,
        quantity: line.energy.toString(),
        quantityUnit: 'milli-watt-hour',
        unitPriceMicroMinor: ENERGY_PER_KWH.toString(),
        amountMinor: ((line.energy * ENERGY_PER_KWH) / 1_000_000_000_000n).toString(),
        sourceEventIds: line.ids,
      });
    }
    const total = invoiceLines.reduce((sum, l) => sum + BigInt(l.amountMinor), 0n);
    invoiceNumber += 1;
    await bill.push('invoice-numbers', {
      type: billing.DocumentNumberAssigned.type,
      occurredAt: finalizedAt,
      payload: { series: 'invoice', number: invoiceNumber, documentId: invoiceId },
    });
    await bill.push(`invoice-${invoiceId}`, {
      type: billing.InvoiceFinalized.type,
      occurredAt: finalizedAt,
      payload: {
        invoiceId,
        invoiceNumber,
        tenantId,
        period,
        currency: USD,
        lines: invoiceLines,
        totalMinor: total.toString(),
        finalizedAt,
      },
    });
    if (invoiceNumber % 20 === 0) {
      creditNoteNumber += 1;
      const creditNoteId = `cn-${creditNoteNumber}`;
      const first = invoiceLines[0];
      await bill.push('credit-note-numbers', {
        type: billing.DocumentNumberAssigned.type,
        occurredAt: finalizedAt,
        payload: { series: 'credit-note', number: creditNoteNumber, documentId: creditNoteId },
      });
      await bill.push(`invoice-${invoiceId}`, {
        type: billing.CreditNoteIssued.type,
        occurredAt: finalizedAt,
        payload: {
          creditNoteId,
          creditNoteNumber,
          invoiceId,
          invoiceNumber,
          tenantId,
          period,
          currency: USD,
          reason: 'goodwill: scheduler outage',
          lines: [
            {
              lineId: `${creditNoteId}:adjustment`,
              leaseId: first.leaseId,
              kind: 'adjustment',
              quantity: '1',
              quantityUnit: 'each',
              amountMinor: '-100000',
              sourceEventIds: first.sourceEventIds.slice(0, 1),
            },
          ],
          totalMinor: '-100000',
          adjustingCharges: [],
          issuedAt: finalizedAt,
          sourceEventIds: first.sourceEventIds.slice(0, 1),
        },
      });
    }
  }
  // A few leases amended and terminated at the end of the month.
  for (const lease of leases.filter((_, i) => i % 50 === 7)) {
    await alloc.push(allocation.AllocationStreams.leaseBook, {
      type: allocation.LeaseTerminated.type,
      occurredAt: at(hours - 1, 30),
      payload: {
        leaseId: lease.leaseId,
        tenantId: lease.tenantId,
        terminatedAt: at(hours - 1, 30),
        reason: 'moved to exclusive cluster',
        author: 'sales-ops',
      },
    });
  }
  for (const w of [alloc, meter, bill]) await w.finish();
  say(`allocation, metering, billing appended in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const eventsByService = new Map<string, Map<string, number>>([
    ['inventory', inventoryCounts],
    ['allocation', alloc.counts],
    ['metering', meter.counts],
    ['billing', bill.counts],
  ]);
  const inboxRows = new Map<string, number>();
  for (const writers of inboxesByTopic.values())
    for (const w of writers) inboxRows.set(w.consumer, (inboxRows.get(w.consumer) ?? 0) + w.rows);
  return {
    leases: leaseCount,
    tenants: tenantCount,
    gpus: allGpus.length,
    hours,
    eventsByService,
    inboxRows,
    totalEvents: inventoryTotal + alloc.total() + meter.total() + bill.total(),
    seconds: (Date.now() - started) / 1000,
  };
}
