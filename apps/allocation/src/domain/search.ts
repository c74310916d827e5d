import { allocation } from '@fleetledger/contracts';
import { FreeCapacity, GpuRec, HallRec, NodeRec, nodeDrawW, RackRec, SiteRec } from './capacity';

/**
 * Finding GPUs for one request inside one pool. Pure reads of the pool's free capacity (the live pool,
 * or a what-if over it): nothing here changes it. Every search is best-fit (the smallest hole that fits) to keep big holes for big jobs.
 */

export type SearchFailure = 'capacity' | 'power-headroom' | 'topology';
export type SearchResult =
  { ok: true; gpus: GpuRec[] } | { ok: false; reason: SearchFailure; detail: string };

export interface Shape {
  gpuCount: number;
  gang: boolean;
  topology: allocation.Topology;
}

/** Power added by the GPUs picked so far, checked against rack, hall and site budgets. */
class PowerTally {
  private readonly racks = new Map<RackRec, number>();
  private readonly halls = new Map<HallRec, number>();
  private readonly sites = new Map<SiteRec, number>();
  blocked = false;
  /** The first budget that refused, in words (budget, draw, headroom, what was needed). */
  blockedBy = '';

  constructor(private readonly pool: FreeCapacity) {}

  /** Adds k GPUs of a node if every budget above it still holds; remembers a refusal. */
  tryAdd(node: NodeRec, k: number): boolean {
    const allocated = this.pool.allocated(node);
    const watts = nodeDrawW(node, allocated + k) - nodeDrawW(node, allocated);
    const rack = node.rack;
    const hall = rack.hall;
    const site = hall.site;
    const rackDrawW = this.pool.drawW(rack);
    const hallDrawW = this.pool.drawW(hall);
    const siteDrawW = this.pool.drawW(site);
    const rackW = (this.racks.get(rack) ?? 0) + watts;
    const hallW = (this.halls.get(hall) ?? 0) + watts;
    const siteW = (this.sites.get(site) ?? 0) + watts;
    const over =
      rackDrawW + rackW > rack.budgetW
        ? { scope: `rack ${rack.rackId}`, budgetW: rack.budgetW, drawW: rackDrawW + rackW - watts }
        : hallDrawW + hallW > hall.budgetW
          ? { scope: `hall ${hall.hallId}`, budgetW: hall.budgetW, drawW: hallDrawW + hallW - watts }
          : siteDrawW + siteW > site.budgetW
            ? { scope: `site ${site.siteId}`, budgetW: site.budgetW, drawW: siteDrawW + siteW - watts }
            : null;
    if (over) {
      this.blocked = true;
      this.blockedBy ||= `${over.scope}: budget ${over.budgetW} W, draw ${over.drawW} W, headroom ${over.budgetW - over.drawW} W, ${watts} W more needed`;
      return false;
    }
    this.racks.set(rack, rackW);
    this.halls.set(hall, hallW);
    this.sites.set(site, siteW);
    return true;
  }

  /** Takes over what a forked tally added (the fork's picks were kept). */
  adopt(fork: PowerTally): void {
    for (const [k, v] of fork.racks) this.racks.set(k, v);
    for (const [k, v] of fork.halls) this.halls.set(k, v);
    for (const [k, v] of fork.sites) this.sites.set(k, v);
    this.blocked ||= fork.blocked;
    this.blockedBy ||= fork.blockedBy;
  }

  fork(): PowerTally {
    const copy = new PowerTally(this.pool);
    for (const [k, v] of this.racks) copy.racks.set(k, v);
    for (const [k, v] of this.halls) copy.halls.set(k, v);
    for (const [k, v] of this.sites) copy.sites.set(k, v);
    return copy;
  }
}

function freeGpus(pool: FreeCapacity, node: NodeRec, k: number): GpuRec[] {
  const out: GpuRec[] = [];
  for (const gpu of node.gpus) {
    if (pool.isFree(gpu)) {
      out.push(gpu);
      if (out.length === k) break;
    }
  }
  return out;
}

const isWhole = (pool: FreeCapacity, node: NodeRec) => pool.nodeFree(node) === node.gpus.length;

function* nodesUp(pool: FreeCapacity, from: number): Generator<NodeRec> {
  const max = pool.maxBucket;
  for (let k = Math.max(1, from); k <= max; k++) yield* pool.nodesWithFree(k);
}

function* racksUp(pool: FreeCapacity, from: number): Generator<RackRec> {
  const max = pool.maxBucket;
  for (let k = Math.max(1, from); k <= max; k++) yield* pool.racksWithFree(k);
}

function* racksDown(pool: FreeCapacity): Generator<RackRec> {
  for (let k = pool.maxBucket; k >= 1; k--) yield* pool.racksWithFree(k);
}

/** The smallest node that holds n free GPUs (one NVLink domain on HGX, one tray on GB200). */
function oneNode(pool: FreeCapacity, n: number, tally: PowerTally, exclude?: Set<NodeRec>): GpuRec[] | null {
  for (const node of nodesUp(pool, n)) {
    if (exclude?.has(node)) continue;
    if (tally.tryAdd(node, n)) return freeGpus(pool, node, n);
  }
  return null;
}

/** n GPUs inside one rack, whole nodes first; null if the rack's budgets refuse. */
function pickInRack(pool: FreeCapacity, rack: RackRec, n: number, tally: PowerTally): GpuRec[] | null {
  const local = tally.fork();
  const nodes = rack.nodes
    .filter((node) => pool.nodeFree(node) > 0)
    .sort((a, b) => pool.nodeFree(b) - pool.nodeFree(a));
  const out: GpuRec[] = [];
  for (const node of nodes) {
    const k = Math.min(pool.nodeFree(node), n - out.length);
    if (!local.tryAdd(node, k)) {
      tally.blocked = true;
      return null;
    }
    out.push(...freeGpus(pool, node, k));
    if (out.length === n) {
      tally.adopt(local);
      return out;
    }
  }
  return null;
}

/** The smallest rack (for GB200: NVLink domain) holding n free GPUs. */
function oneRack(pool: FreeCapacity, n: number, tally: PowerTally, exclude?: Set<RackRec>): GpuRec[] | null {
  for (const rack of racksUp(pool, n)) {
    if (exclude?.has(rack)) continue;
    const gpus = pickInRack(pool, rack, n, tally);
    if (gpus) return gpus;
  }
  return null;
}

/** GB200 gang beyond one domain: whole free NVL72 racks, plus the smallest domain for the rest. */
function wholeDomains(pool: FreeCapacity, n: number, tally: PowerTally): GpuRec[] | null {
  const out: GpuRec[] = [];
  const used = new Set<RackRec>();
  for (const rack of racksDown(pool)) {
    const size = rack.nodes.reduce((s, node) => s + node.gpus.length, 0);
    if (pool.rackFree(rack) !== size || n - out.length < size) continue;
    const gpus = pickInRack(pool, rack, size, tally);
    if (!gpus) continue;
    out.push(...gpus);
    used.add(rack);
    if (out.length === n) return out;
  }
  const rest = n - out.length;
  if (rest <= 0 || used.size === 0) return null;
  const tail = oneRack(pool, rest, tally, used);
  return tail ? [...out, ...tail] : null;
}

/** HGX gang beyond one node: whole nodes, as few racks as possible (one rack when one fits). */
function wholeNodesFewestRacks(
  pool: FreeCapacity,
  n: number,
  gpusPerNode: number,
  tally: PowerTally,
): GpuRec[] | null {
  const wholeNeeded = Math.floor(n / gpusPerNode);
  const rest = n % gpusPerNode;

  const takeFrom = (racks: Iterable<RackRec>, local: PowerTally): GpuRec[] | null => {
    const out: GpuRec[] = [];
    const used = new Set<NodeRec>();
    let wholeTaken = 0;
    for (const rack of racks) {
      for (const node of rack.nodes) {
        if (wholeTaken === wholeNeeded) break;
        if (!isWhole(pool, node) || !local.tryAdd(node, node.gpus.length)) continue;
        out.push(...freeGpus(pool, node, node.gpus.length));
        used.add(node);
        wholeTaken += 1;
      }
      if (wholeTaken === wholeNeeded) break;
    }
    if (wholeTaken < wholeNeeded) return null;
    if (rest === 0) return out;
    const tail = oneNode(pool, rest, local, used);
    return tail ? [...out, ...tail] : null;
  };

  // One rack if one holds the job: the smallest such rack.
  for (const rack of racksUp(pool, n)) {
    const wholes = rack.nodes.reduce((c, node) => c + (isWhole(pool, node) ? 1 : 0), 0);
    if (wholes < wholeNeeded) continue;
    const local = tally.fork();
    const out: GpuRec[] = [];
    let taken = 0;
    const used = new Set<NodeRec>();
    for (const node of rack.nodes) {
      if (taken === wholeNeeded) break;
      if (isWhole(pool, node) && local.tryAdd(node, node.gpus.length)) {
        out.push(...freeGpus(pool, node, node.gpus.length));
        used.add(node);
        taken += 1;
      }
    }
    if (taken < wholeNeeded) {
      tally.blocked ||= local.blocked;
      continue;
    }
    if (rest > 0) {
      const partial = rack.nodes
        .filter((node) => !used.has(node) && pool.nodeFree(node) >= rest)
        .sort((a, b) => pool.nodeFree(a) - pool.nodeFree(b))
        .find((node) => local.tryAdd(node, rest));
      if (!partial) continue;
      out.push(...freeGpus(pool, partial, rest));
    }
    tally.adopt(local);
    return out;
  }
  // Several racks: the emptiest racks first, so the job spans as few as possible.
  const local = tally.fork();
  const out = takeFrom(racksDown(pool), local);
  tally.blocked ||= local.blocked;
  if (out) tally.adopt(local);
  return out;
}

/** Any n free GPUs, filling the most fragmented nodes first (keeps whole nodes for gangs). */
function scattered(pool: FreeCapacity, n: number, tally: PowerTally): GpuRec[] | null {
  const out: GpuRec[] = [];
  for (const node of nodesUp(pool, 1)) {
    const k = Math.min(pool.nodeFree(node), n - out.length);
    if (!tally.tryAdd(node, k)) continue;
    out.push(...freeGpus(pool, node, k));
    if (out.length === n) return out;
  }
  return null;
}

const perNode = (gpuClass: allocation.GpuClass) => (gpuClass === 'GB200' ? 4 : 8);
const perDomain = (gpuClass: allocation.GpuClass) => (gpuClass === 'GB200' ? 72 : 8);

/** Finds GPUs for a request in a pool, honouring its topology; names why when it cannot. */
export function searchPool(pool: FreeCapacity, shape: Shape): SearchResult {
  const n = shape.gpuCount;
  const cls = pool.gpuClass;
  const tally = new PowerTally(pool);
  const fail = (reason: SearchFailure, detail: string): SearchResult => ({ ok: false, reason, detail });

  if (shape.topology === 'same-node' && n > perNode(cls))
    return fail('topology', `${n} GPUs never fit one ${cls} node (${perNode(cls)})`);
  if (shape.topology === 'same-nvlink-domain' && n > perDomain(cls)) {
    return fail('topology', `${n} GPUs never fit one ${cls} NVLink domain (${perDomain(cls)})`);
  }
  if (pool.freeGpus < n)
    return fail(
      'capacity',
      `${pool.freeGpus} free ${cls} GPUs in ${pool.fence ? `lease ${pool.fence}` : 'shared capacity'}, ${n} wanted`,
    );

  let gpus: GpuRec[] | null;
  let hard = true;
  switch (shape.topology) {
    case 'same-node':
      gpus = oneNode(pool, n, tally);
      break;
    case 'same-nvlink-domain':
      gpus = cls === 'GB200' ? oneRack(pool, n, tally) : oneNode(pool, n, tally);
      break;
    case 'same-rack':
      gpus = oneRack(pool, n, tally);
      break;
    case 'any':
      if (!shape.gang) {
        hard = false;
        gpus = scattered(pool, n, tally);
      } else if (cls === 'GB200') {
        // A GB200 gang that fits one NVLink domain stays in one; larger ones take whole domains.
        gpus = n <= 72 ? oneRack(pool, n, tally) : wholeDomains(pool, n, tally);
      } else {
        // HGX gangs prefer one node / whole nodes on the fewest racks, and fall back to any GPUs.
        hard = false;
        gpus =
          (n <= perNode(cls)
            ? oneNode(pool, n, tally)
            : wholeNodesFewestRacks(pool, n, perNode(cls), tally)) ?? scattered(pool, n, tally);
      }
      break;
  }
  if (gpus) return { ok: true, gpus };
  if (tally.blocked)
    return fail(
      'power-headroom',
      `power budgets leave no headroom for ${n} more ${cls} GPUs (${tally.blockedBy || 'rack, hall or site'})`,
    );
  return hard
    ? fail(
        'topology',
        `${pool.freeGpus} ${cls} GPUs are free but not ${n} together (${shape.topology === 'any' ? 'one NVLink domain / whole domains' : shape.topology})`,
      )
    : fail('capacity', `no ${n} free ${cls} GPUs could be taken`);
}
