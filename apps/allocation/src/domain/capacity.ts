import { inventory } from '@fleetledger/contracts';

type GpuClass = inventory.GpuClass;
type GpuHealth = inventory.GpuHealth;

/**
 * The in-memory capacity view the placement engine decides over: every GPU with its node, rack,
 * hall, NVLink domain, health and current placement, plus power draw and budgets at rack, hall and
 * site. Built from inventory events (`applyInventoryEvent`) and from allocation's own placements
 * (`allocate` / `free`). Pure data structure: no I/O, no clock.
 *
 * Speed (220,000 GPUs): free GPUs are indexed per pool (GPU class x fence) by node free count and by
 * rack free count, so a decision looks at a few buckets instead of scanning the fleet.
 *
 * A pool is the capacity one kind of workload may use: `shared` capacity of a class, or the racks
 * fenced off by one exclusive lease (`fence` = lease id).
 *
 * Power (the model shared with inventory, contracts inventory/power.ts): every commissioned node
 * draws its idle power, plus its share of the rest for each allocated GPU. Budgets may be set below
 * the nominal draw (a cap); placements are admitted only while every budget above them keeps
 * headroom (budget - draw) for the GPUs they add.
 */

export interface SiteRec {
  siteId: string;
  budgetW: number;
  drawW: number;
}
export interface HallRec {
  hallId: string;
  site: SiteRec;
  budgetW: number;
  drawW: number;
  racks: RackRec[];
}
export interface RackRec {
  rackId: string;
  hall: HallRec;
  gpuClass: GpuClass;
  form: inventory.RackForm;
  budgetW: number;
  drawW: number;
  nodes: NodeRec[];
  free: number;
  fence: string | null;
}
export interface NodeRec {
  nodeId: string;
  rack: RackRec;
  nominalPowerW: number;
  gpus: GpuRec[];
  free: number;
  allocated: number;
  decommissioned: boolean;
}
export interface GpuRec {
  gpuId: string;
  node: NodeRec;
  nvlinkDomain: string;
  health: GpuHealth;
  placementId: string | null;
}

/**
 * What a search reads of one pool's free capacity. The live `Pool` answers from the view's records; a
 * what-if (`WhatIfPool`, preemption) answers as if some placements had been released, without changing
 * the view.
 */
export interface FreeCapacity {
  readonly gpuClass: GpuClass;
  readonly fence: string | null;
  /** Free GPUs in the pool. */
  readonly freeGpus: number;
  /** The highest free count a node (or rack) of the pool may have in the buckets. */
  readonly maxBucket: number;
  /** Nodes (racks) of the pool with exactly k free GPUs, k >= 1. */
  nodesWithFree(k: number): Iterable<NodeRec>;
  racksWithFree(k: number): Iterable<RackRec>;
  nodeFree(node: NodeRec): number;
  rackFree(rack: RackRec): number;
  isFree(gpu: GpuRec): boolean;
  /** GPUs of the node held by placements (their draw counts on the budgets). */
  allocated(node: NodeRec): number;
  drawW(scope: RackRec | HallRec | SiteRec): number;
}

const NO_MEMBERS: ReadonlySet<never> = new Set();

/** Free capacity of one GPU class behind one fence, indexed for the engine. */
export class Pool implements FreeCapacity {
  /** nodesByFree[k]: nodes of this pool with exactly k free GPUs (k >= 1). */
  readonly nodesByFree: Set<NodeRec>[] = [];
  /** racksByFree[k]: racks of this pool with exactly k free GPUs (k >= 1). */
  readonly racksByFree: Set<RackRec>[] = [];
  freeGpus = 0;

  constructor(
    readonly gpuClass: GpuClass,
    readonly fence: string | null,
  ) {}

  get maxBucket(): number {
    return Math.max(this.nodesByFree.length, this.racksByFree.length) - 1;
  }
  nodesWithFree(k: number): Iterable<NodeRec> {
    return this.nodesByFree[k] ?? NO_MEMBERS;
  }
  racksWithFree(k: number): Iterable<RackRec> {
    return this.racksByFree[k] ?? NO_MEMBERS;
  }
  nodeFree(node: NodeRec): number {
    return node.free;
  }
  rackFree(rack: RackRec): number {
    return rack.free;
  }
  isFree(gpu: GpuRec): boolean {
    return gpu.health === 'healthy' && gpu.placementId === null;
  }
  allocated(node: NodeRec): number {
    return node.allocated;
  }
  drawW(scope: RackRec | HallRec | SiteRec): number {
    return scope.drawW;
  }

  bucket<T>(buckets: Set<T>[], k: number): Set<T> {
    let set = buckets[k];
    if (!set) {
      set = new Set<T>();
      buckets[k] = set;
    }
    return set;
  }
}

export function nodeDrawW(node: NodeRec, allocated: number): number {
  return inventory.nodeDrawW(node.nominalPowerW, node.gpus.length, allocated);
}

/** One budget's view for operators: budget, draw (idle included), headroom. */
export interface PowerScope {
  scope: 'site' | 'hall' | 'rack';
  id: string;
  budgetW: number | null;
  drawW: number;
  idleDrawW: number;
  headroomW: number | null;
}

export class CapacityView {
  readonly sites = new Map<string, SiteRec>();
  readonly halls = new Map<string, HallRec>();
  readonly racks = new Map<string, RackRec>();
  readonly nodes = new Map<string, NodeRec>();
  readonly gpus = new Map<string, GpuRec>();
  private readonly pools = new Map<string, Pool>();
  private readonly healthyByClass = new Map<GpuClass, number>();
  private readonly allocatedByClass = new Map<GpuClass, number>();

  pool(gpuClass: GpuClass, fence: string | null): Pool {
    const key = `${gpuClass}|${fence ?? ''}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(gpuClass, fence);
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** The pool if it was ever created, without creating it (for read-only decisions). */
  existingPool(gpuClass: GpuClass, fence: string | null): Pool | undefined {
    return this.pools.get(`${gpuClass}|${fence ?? ''}`);
  }

  poolOf(rack: RackRec): Pool {
    return this.pool(rack.gpuClass, rack.fence);
  }

  // ---- inventory -------------------------------------------------------------------------------

  applyInventoryEvent(event: inventory.InventoryEvent): void {
    switch (event.type) {
      // Site, hall and rack events travel on different streams, hence different Kafka partitions: a
      // rack may arrive before its hall, a hall before its site. Registering updates the placeholder
      // in place, so what was attached to it early (racks, halls, their draw) is kept.
      case 'inventory.SiteRegistered':
        this.siteOrDefault(event.payload.siteId).budgetW = event.payload.powerCapW;
        return;
      case 'inventory.HallRegistered': {
        this.hallOrDefault(event.payload.hallId, event.payload.siteId).budgetW = event.payload.powerCapW;
        return;
      }
      case 'inventory.RackRegistered': {
        const p = event.payload;
        const hall = this.hallOrDefault(p.hallId, p.siteId);
        const rack: RackRec = {
          rackId: p.rackId,
          hall,
          gpuClass: p.gpuClass,
          form: p.form,
          budgetW: p.powerBudgetW,
          drawW: 0,
          nodes: [],
          free: 0,
          fence: null,
        };
        hall.racks.push(rack);
        this.racks.set(p.rackId, rack);
        return;
      }
      case 'inventory.NodesCommissioned': {
        const rack = this.racks.get(event.payload.rackId);
        if (!rack) return;
        for (const commissioned of event.payload.nodes) {
          if (this.nodes.has(commissioned.nodeId)) continue; // a redelivered event changes nothing
          const node: NodeRec = {
            nodeId: commissioned.nodeId,
            rack,
            nominalPowerW: commissioned.nominalPowerW,
            gpus: [],
            free: 0,
            allocated: 0,
            decommissioned: false,
          };
          rack.nodes.push(node);
          this.nodes.set(node.nodeId, node);
          this.addIdleDraw(node, 1);
          for (const g of commissioned.gpus) {
            const gpu: GpuRec = {
              gpuId: g.gpuId,
              node,
              nvlinkDomain: g.nvlinkDomain,
              health: 'decommissioned',
              placementId: null,
            };
            node.gpus.push(gpu);
            this.gpus.set(gpu.gpuId, gpu);
            this.setHealth(gpu, g.health);
          }
        }
        return;
      }
      case 'inventory.GpuHealthChanged': {
        const gpu = this.gpus.get(event.payload.gpuId);
        if (gpu) this.setHealth(gpu, event.payload.health);
        return;
      }
      case 'inventory.NodeDrainStarted':
      case 'inventory.RackDrainStarted':
        for (const gpuId of event.payload.gpuIds) {
          const gpu = this.gpus.get(gpuId);
          if (gpu) this.setHealth(gpu, 'draining');
        }
        return;
      case 'inventory.NodeUndrained':
      case 'inventory.RackUndrained':
        for (const { gpuId, health } of event.payload.gpus) {
          const gpu = this.gpus.get(gpuId);
          if (gpu) this.setHealth(gpu, health);
        }
        return;
      case 'inventory.NodeDecommissioned': {
        for (const gpuId of event.payload.gpuIds) {
          const gpu = this.gpus.get(gpuId);
          if (gpu) this.setHealth(gpu, 'decommissioned');
        }
        const node = this.nodes.get(event.payload.nodeId);
        if (node && !node.decommissioned) {
          node.decommissioned = true;
          this.addIdleDraw(node, -1); // out of service: it draws nothing any more
        }
        return;
      }
      case 'inventory.PowerBudgetChanged': {
        const p = event.payload;
        const target =
          p.scope === 'site'
            ? this.sites.get(p.scopeId)
            : p.scope === 'hall'
              ? this.halls.get(p.scopeId)
              : this.racks.get(p.scopeId);
        if (target) target.budgetW = p.toW;
        return;
      }
    }
  }

  private siteOrDefault(siteId: string): SiteRec {
    let site = this.sites.get(siteId);
    if (!site) {
      site = { siteId, budgetW: Number.MAX_SAFE_INTEGER, drawW: 0 };
      this.sites.set(siteId, site);
    }
    return site;
  }

  private hallOrDefault(hallId: string, siteId: string): HallRec {
    let hall = this.halls.get(hallId);
    if (!hall) {
      hall = {
        hallId,
        site: this.siteOrDefault(siteId),
        budgetW: Number.MAX_SAFE_INTEGER,
        drawW: 0,
        racks: [],
      };
      this.halls.set(hallId, hall);
    }
    return hall;
  }

  // ---- free-capacity bookkeeping ---------------------------------------------------------------

  private isFree(gpu: GpuRec): boolean {
    return gpu.health === 'healthy' && gpu.placementId === null;
  }

  /** Removes a node and its rack from the pool indexes, runs `change`, and puts them back. */
  private reindex(node: NodeRec, change: () => void): void {
    const rack = node.rack;
    const pool = this.poolOf(rack);
    if (node.free > 0) pool.nodesByFree[node.free]?.delete(node);
    if (rack.free > 0) pool.racksByFree[rack.free]?.delete(rack);
    const before = node.free;
    change();
    const after = node.gpus.reduce((n, g) => n + (this.isFree(g) ? 1 : 0), 0);
    node.free = after;
    rack.free += after - before;
    pool.freeGpus += after - before;
    if (node.free > 0) pool.bucket(pool.nodesByFree, node.free).add(node);
    if (rack.free > 0) pool.bucket(pool.racksByFree, rack.free).add(rack);
  }

  private setHealth(gpu: GpuRec, health: GpuHealth): void {
    if (gpu.health === health) return;
    const gpuClass = gpu.node.rack.gpuClass;
    if (gpu.health === 'healthy')
      this.healthyByClass.set(gpuClass, (this.healthyByClass.get(gpuClass) ?? 0) - 1);
    if (health === 'healthy') this.healthyByClass.set(gpuClass, (this.healthyByClass.get(gpuClass) ?? 0) + 1);
    this.reindex(gpu.node, () => {
      gpu.health = health;
    });
  }

  /** Marks GPUs as held by a placement and adds their power draw. */
  allocate(placementId: string, gpuIds: readonly string[]): void {
    this.forEachNode(gpuIds, (node, gpus) => {
      this.reindex(node, () => {
        for (const gpu of gpus) gpu.placementId = placementId;
      });
      this.addDraw(node, gpus.length);
    });
  }

  /** Returns a placement's GPUs (only those it still holds) and removes their power draw. */
  free(placementId: string, gpuIds: readonly string[]): void {
    this.forEachNode(gpuIds, (node, gpus) => {
      const held = gpus.filter((g) => g.placementId === placementId);
      if (held.length === 0) return;
      this.reindex(node, () => {
        for (const gpu of held) gpu.placementId = null;
      });
      this.addDraw(node, -held.length);
    });
  }

  /** A node's idle draw counts on its rack, hall and site from commissioning to decommissioning. */
  private addIdleDraw(node: NodeRec, sign: 1 | -1): void {
    const watts = sign * inventory.idleDrawW(node.nominalPowerW);
    node.rack.drawW += watts;
    node.rack.hall.drawW += watts;
    node.rack.hall.site.drawW += watts;
  }

  /** Budget, draw (idle included) and headroom of every site, hall and rack, in id order. */
  power(): PowerScope[] {
    const scope = (
      kind: PowerScope['scope'],
      id: string,
      budgetW: number,
      drawW: number,
      nodes: Iterable<NodeRec>,
    ): PowerScope => {
      let idle = 0;
      for (const node of nodes) if (!node.decommissioned) idle += inventory.idleDrawW(node.nominalPowerW);
      // A site or hall registered late (its events on another partition) has no budget yet.
      const known = budgetW !== Number.MAX_SAFE_INTEGER;
      return {
        scope: kind,
        id,
        budgetW: known ? budgetW : null,
        drawW,
        idleDrawW: idle,
        headroomW: known ? budgetW - drawW : null,
      };
    };
    const out: PowerScope[] = [];
    const byId = <T>(map: Map<string, T>) => [...map].sort(([a], [b]) => a.localeCompare(b));
    const nodesOf = (racks: Iterable<RackRec>) => [...racks].flatMap((r) => r.nodes);
    for (const [id, site] of byId(this.sites)) {
      const racks = [...this.racks.values()].filter((r) => r.hall.site === site);
      out.push(scope('site', id, site.budgetW, site.drawW, nodesOf(racks)));
    }
    for (const [id, hall] of byId(this.halls))
      out.push(scope('hall', id, hall.budgetW, hall.drawW, nodesOf(hall.racks)));
    for (const [id, rack] of byId(this.racks))
      out.push(scope('rack', id, rack.budgetW, rack.drawW, rack.nodes));
    return out;
  }

  private addDraw(node: NodeRec, delta: number): void {
    const gpuClass = node.rack.gpuClass;
    this.allocatedByClass.set(gpuClass, (this.allocatedByClass.get(gpuClass) ?? 0) + delta);
    const watts = nodeDrawW(node, node.allocated + delta) - nodeDrawW(node, node.allocated);
    node.allocated += delta;
    node.rack.drawW += watts;
    node.rack.hall.drawW += watts;
    node.rack.hall.site.drawW += watts;
  }

  private forEachNode(gpuIds: readonly string[], visit: (node: NodeRec, gpus: GpuRec[]) => void): void {
    const byNode = new Map<NodeRec, GpuRec[]>();
    for (const gpuId of gpuIds) {
      const gpu = this.gpus.get(gpuId);
      if (!gpu) continue;
      const list = byNode.get(gpu.node);
      if (list) list.push(gpu);
      else byNode.set(gpu.node, [gpu]);
    }
    for (const [node, gpus] of byNode) visit(node, gpus);
  }

  /** Fences racks for an exclusive lease (leaseId) or returns them to shared capacity (null). */
  setFence(rackIds: readonly string[], fence: string | null): void {
    for (const rackId of rackIds) {
      const rack = this.racks.get(rackId);
      if (!rack || rack.fence === fence) continue;
      const oldPool = this.poolOf(rack);
      const newPool = this.pool(rack.gpuClass, fence);
      for (const node of rack.nodes) {
        if (node.free > 0) {
          oldPool.nodesByFree[node.free]?.delete(node);
          newPool.bucket(newPool.nodesByFree, node.free).add(node);
        }
      }
      if (rack.free > 0) {
        oldPool.racksByFree[rack.free]?.delete(rack);
        newPool.bucket(newPool.racksByFree, rack.free).add(rack);
      }
      oldPool.freeGpus -= rack.free;
      newPool.freeGpus += rack.free;
      rack.fence = fence;
    }
  }

  // ---- queries ---------------------------------------------------------------------------------

  /** Racks named directly or through their hall. */
  racksInScope(scope: { hallIds: readonly string[]; rackIds: readonly string[] }): RackRec[] {
    const out = new Set<RackRec>();
    for (const hallId of scope.hallIds) for (const rack of this.halls.get(hallId)?.racks ?? []) out.add(rack);
    for (const rackId of scope.rackIds) {
      const rack = this.racks.get(rackId);
      if (rack) out.add(rack);
    }
    return [...out];
  }

  /** GPUs in service (not decommissioned) per class, in the given racks or the whole fleet. */
  installedGpus(racks?: Iterable<RackRec>): Record<GpuClass, number> {
    const counts: Record<GpuClass, number> = { H100: 0, H200: 0, GB200: 0 };
    for (const rack of racks ?? this.racks.values()) {
      for (const node of rack.nodes)
        for (const gpu of node.gpus) if (gpu.health !== 'decommissioned') counts[rack.gpuClass] += 1;
    }
    return counts;
  }

  utilization(gpuClass: GpuClass): { allocated: number; healthy: number } {
    return {
      allocated: this.allocatedByClass.get(gpuClass) ?? 0,
      healthy: this.healthyByClass.get(gpuClass) ?? 0,
    };
  }
}
