import { mulberry32 } from '@fleetledger/contracts';
import { GpuClass, SAMPLE_PERIOD_SECONDS, TelemetrySample } from '@fleetledger/contracts/metering';

/**
 * A node-agent simulator for demos and benchmarks: a generated fleet, each GPU reporting one sample
 * per reporting period. Deterministic from its seed (no Math.random, no clock): the same seed and
 * start time give the same samples, byte for byte.
 */
export interface SimulatedNode {
  nodeId: string;
  gpuClass: GpuClass;
  gpuIds: string[];
}

export interface FleetSpec {
  seed: number;
  nodes: number;
  /** Share of nodes per class; defaults to an even H100/H200/GB200 mix. */
  classMix?: Partial<Record<GpuClass, number>>;
}

/** Idle and full-load draw per class, watts (HGX H100/H200 ~700 W TDP; GB200 ~1200 W per GPU). */
const POWER_PROFILE: Record<GpuClass, { idleW: number; maxW: number; gpusPerNode: number }> = {
  H100: { idleW: 70, maxW: 700, gpusPerNode: 8 },
  H200: { idleW: 75, maxW: 700, gpusPerNode: 8 },
  GB200: { idleW: 100, maxW: 1200, gpusPerNode: 4 },
};

export function generateFleet(spec: FleetSpec): SimulatedNode[] {
  const mix = spec.classMix ?? { H100: 1, H200: 1, GB200: 1 };
  const classes = (Object.keys(mix) as GpuClass[]).filter((c) => (mix[c] ?? 0) > 0);
  const weight = classes.reduce((sum, c) => sum + (mix[c] ?? 0), 0);
  const random = mulberry32(spec.seed);
  const nodes: SimulatedNode[] = [];
  for (let n = 0; n < spec.nodes; n++) {
    let pick = random() * weight;
    const gpuClass = classes.find((c) => (pick -= mix[c] ?? 0) < 0) ?? classes[classes.length - 1];
    const nodeId = `sim-node-${String(n).padStart(6, '0')}`;
    const gpuIds = Array.from({ length: POWER_PROFILE[gpuClass].gpusPerNode }, (_, g) => `${nodeId}-gpu${g}`);
    nodes.push({ nodeId, gpuClass, gpuIds });
  }
  return nodes;
}

export interface SimulatorOptions {
  seed: number;
  /** First reporting instant (epoch ms); each tick advances by the reporting period. */
  startMs: number;
  periodMs?: number;
}

/**
 * Emits one sample per GPU per tick. Utilization follows a bounded random walk per GPU (jobs ramp up
 * and down rather than jumping), power tracks utilization between the class's idle and max draw.
 * Sample ids are `<gpuId>@<sampledAt ms>`: unique per GPU and instant, stable across re-runs.
 */
export class NodeAgentSimulator {
  private readonly random: () => number;
  /** Each GPU's current utilization, GPUs numbered in fleet order (`firstGpu` of its node + its place). */
  private readonly utilization: Float64Array;
  private readonly firstGpu = new Map<SimulatedNode, number>();
  /** Every id can be written into JSON text as it is (no quote, backslash or control character). */
  private readonly plainIds: boolean;
  private tick = 0;
  private readonly periodMs: number;

  constructor(
    readonly fleet: readonly SimulatedNode[],
    private readonly options: SimulatorOptions,
  ) {
    this.random = mulberry32(options.seed ^ 0x9e3779b9);
    this.periodMs = options.periodMs ?? SAMPLE_PERIOD_SECONDS * 1000;
    let gpus = 0;
    for (const node of fleet) {
      this.firstGpu.set(node, gpus);
      gpus += node.gpuIds.length;
    }
    this.utilization = new Float64Array(gpus);
    for (let i = 0; i < gpus; i++) this.utilization[i] = this.random();
    const plain = (id: string) => JSON.stringify(id) === `"${id}"`;
    this.plainIds = fleet.every((n) => plain(n.nodeId) && n.gpuIds.every(plain));
  }

  get gpuCount(): number {
    return this.utilization.length;
  }

  /** The samples of every GPU for the next reporting instant, grouped by node (the Kafka key). */
  nextTick(): { sampledAtMs: number; byNode: { nodeId: string; samples: TelemetrySample[] }[] } {
    const sampledAtMs = this.options.startMs + this.tick * this.periodMs;
    this.tick += 1;
    return {
      sampledAtMs,
      byNode: this.fleet.map((node) => ({ nodeId: node.nodeId, samples: this.samplesOf(node, sampledAtMs) })),
    };
  }

  /** One node's report at an instant (a live runner paces nodes over the period with this). */
  samplesOf(node: SimulatedNode, sampledAtMs: number): TelemetrySample[] {
    const sampledAt = new Date(sampledAtMs).toISOString();
    const first = this.gpuOf(node);
    return node.gpuIds.map((gpuId, g) => {
      const { utilization, powerW } = this.nextReading(node.gpuClass, first + g);
      return {
        sampleId: `${gpuId}@${sampledAtMs}`,
        gpuId,
        nodeId: node.nodeId,
        sampledAt,
        utilization,
        powerW,
      };
    });
  }

  /**
   * The same report as `samplesOf`, as the JSON text `JSON.stringify(samplesOf(node, sampledAtMs))`
   * (same readings, same bytes), written without sample objects: the publisher's hot path, so that a
   * benchmark's load generator leaves the CPU to what it measures. `sampledAt` is the ISO form of
   * `sampledAtMs` (the caller formats it once per instant).
   */
  reportJson(node: SimulatedNode, sampledAtMs: number, sampledAt: string): string {
    if (!this.plainIds) return JSON.stringify(this.samplesOf(node, sampledAtMs));
    const first = this.gpuOf(node);
    let json = '[';
    for (let g = 0; g < node.gpuIds.length; g++) {
      const gpuId = node.gpuIds[g];
      const { utilization, powerW } = this.nextReading(node.gpuClass, first + g);
      json +=
        `${g === 0 ? '' : ','}{"sampleId":"${gpuId}@${sampledAtMs}","gpuId":"${gpuId}","nodeId":"${node.nodeId}",` +
        `"sampledAt":"${sampledAt}","utilization":${utilization},"powerW":${powerW}}`;
    }
    return `${json}]`;
  }

  private gpuOf(node: SimulatedNode): number {
    const first = this.firstGpu.get(node);
    if (first === undefined) throw new Error(`node ${node.nodeId} is not in the simulated fleet`);
    return first;
  }

  /** The next reading of one GPU: a bounded random walk of utilization, power tracking it. */
  private nextReading(gpuClass: GpuClass, gpu: number): { utilization: number; powerW: number } {
    const profile = POWER_PROFILE[gpuClass];
    const next = Math.min(1, Math.max(0, this.utilization[gpu] + (this.random() - 0.5) * 0.2));
    this.utilization[gpu] = next;
    const noiseW = (this.random() - 0.5) * 20;
    const powerW = Math.max(
      0,
      Math.round((profile.idleW + (profile.maxW - profile.idleW) * next + noiseW) * 10) / 10,
    );
    return { utilization: Math.round(next * 10_000) / 10_000, powerW };
  }
}

/**
 * Demo placements for a simulated fleet (what allocation would decide): the first `share` of each
 * class's GPUs is split into placements of `gpusPerPlacement`, spread round-robin over `leases`
 * leases of their own tenants. For demos and benchmarks only; real placements come from allocation.
 */
export function demoPlacements(
  fleet: readonly SimulatedNode[],
  options: { leases: number; share: number; gpusPerPlacement: number; placedAtMs: number },
) {
  const placements: {
    placementId: string;
    workloadId: string;
    leaseId: string;
    tenantId: string;
    gpuClass: GpuClass;
    gpuIds: string[];
    nodeIds: string[];
    placedAt: string;
  }[] = [];
  const byClass = new Map<GpuClass, SimulatedNode[]>();
  for (const node of fleet) {
    const nodes = byClass.get(node.gpuClass);
    if (nodes) nodes.push(node);
    else byClass.set(node.gpuClass, [node]);
  }
  let n = 0;
  for (const [gpuClass, nodes] of byClass) {
    const placedNodes = nodes.slice(0, Math.floor(nodes.length * options.share));
    for (let i = 0; i < placedNodes.length;) {
      const group: SimulatedNode[] = [];
      let gpus = 0;
      while (i < placedNodes.length && gpus < options.gpusPerPlacement) {
        group.push(placedNodes[i]);
        gpus += placedNodes[i].gpuIds.length;
        i += 1;
      }
      const lease = n % options.leases;
      placements.push({
        placementId: `sim-placement-${n}`,
        workloadId: `sim-workload-${n}`,
        leaseId: `sim-lease-${lease}`,
        tenantId: `sim-tenant-${lease}`,
        gpuClass,
        gpuIds: group.flatMap((node) => node.gpuIds),
        nodeIds: group.map((node) => node.nodeId),
        placedAt: new Date(options.placedAtMs).toISOString(),
      });
      n += 1;
    }
  }
  return placements;
}
