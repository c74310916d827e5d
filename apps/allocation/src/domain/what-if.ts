import {
  CapacityView,
  FreeCapacity,
  GpuRec,
  HallRec,
  NodeRec,
  nodeDrawW,
  Pool,
  RackRec,
  SiteRec,
} from './capacity';

/**
 * A pool as it would be if some placements were released: what preemption asks before deciding to
 * preempt. An overlay over the live pool: the view's records are never changed (a decision reads the
 * state and returns events; only applying events changes the state), and it costs what the released
 * GPUs touch, not a copy of the pool.
 *
 * The overlay moves a node (rack) between free-count buckets as releasing it in the view would (out of
 * its bucket, onto the end of the new one), so a search over it picks the GPUs a search after a real
 * release would.
 */
export class WhatIfPool implements FreeCapacity {
  readonly gpuClass: Pool['gpuClass'];
  readonly fence: string | null;
  freeGpus: number;
  private readonly released = new Set<GpuRec>();
  private readonly freeOf = new Map<NodeRec | RackRec, number>();
  private readonly allocatedOf = new Map<NodeRec, number>();
  private readonly drawOf = new Map<RackRec | HallRec | SiteRec, number>();
  /** Nodes and racks no longer where the live buckets have them. */
  private readonly moved = new Set<NodeRec | RackRec>();
  private readonly addedNodes: Set<NodeRec>[] = [];
  private readonly addedRacks: Set<RackRec>[] = [];

  constructor(
    private readonly live: Pool,
    private readonly view: CapacityView,
  ) {
    this.gpuClass = live.gpuClass;
    this.fence = live.fence;
    this.freeGpus = live.freeGpus;
  }

  /** Releases a placement's GPUs (those it still holds) in the overlay. */
  release(placement: { placementId: string; gpuIds: readonly string[] }): void {
    const byNode = new Map<NodeRec, GpuRec[]>();
    for (const gpuId of placement.gpuIds) {
      const gpu = this.view.gpus.get(gpuId);
      if (!gpu || gpu.placementId !== placement.placementId || this.released.has(gpu)) continue;
      const held = byNode.get(gpu.node);
      if (held) held.push(gpu);
      else byNode.set(gpu.node, [gpu]);
    }
    for (const [node, held] of byNode) {
      for (const gpu of held) this.released.add(gpu);
      this.releaseDraw(node, held.length);
      const freed = held.filter((gpu) => gpu.health === 'healthy').length;
      const rack = node.rack;
      if (freed === 0 || rack.gpuClass !== this.gpuClass || rack.fence !== this.fence) continue;
      this.move(node, this.nodeFree(node), freed, this.addedNodes);
      this.move(rack, this.rackFree(rack), freed, this.addedRacks);
      this.freeGpus += freed;
    }
  }

  get maxBucket(): number {
    return Math.max(this.live.maxBucket, this.addedNodes.length - 1, this.addedRacks.length - 1);
  }

  *nodesWithFree(k: number): Iterable<NodeRec> {
    for (const node of this.live.nodesWithFree(k)) if (!this.moved.has(node)) yield node;
    yield* this.addedNodes[k] ?? [];
  }

  *racksWithFree(k: number): Iterable<RackRec> {
    for (const rack of this.live.racksWithFree(k)) if (!this.moved.has(rack)) yield rack;
    yield* this.addedRacks[k] ?? [];
  }

  nodeFree(node: NodeRec): number {
    return this.freeOf.get(node) ?? node.free;
  }

  rackFree(rack: RackRec): number {
    return this.freeOf.get(rack) ?? rack.free;
  }

  isFree(gpu: GpuRec): boolean {
    return gpu.health === 'healthy' && (gpu.placementId === null || this.released.has(gpu));
  }

  allocated(node: NodeRec): number {
    return this.allocatedOf.get(node) ?? node.allocated;
  }

  drawW(scope: RackRec | HallRec | SiteRec): number {
    return scope.drawW + (this.drawOf.get(scope) ?? 0);
  }

  private move<T extends NodeRec | RackRec>(member: T, before: number, freed: number, added: Set<T>[]): void {
    if (this.moved.has(member)) added[before]?.delete(member);
    this.moved.add(member);
    this.freeOf.set(member, before + freed);
    (added[before + freed] ??= new Set()).add(member);
  }

  private releaseDraw(node: NodeRec, gpus: number): void {
    const allocated = this.allocated(node);
    const watts = nodeDrawW(node, allocated - gpus) - nodeDrawW(node, allocated);
    this.allocatedOf.set(node, allocated - gpus);
    for (const scope of [node.rack, node.rack.hall, node.rack.hall.site])
      this.drawOf.set(scope, (this.drawOf.get(scope) ?? 0) + watts);
  }
}
