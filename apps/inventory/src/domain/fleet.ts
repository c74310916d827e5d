import { inventory } from '@fleetledger/contracts';

type GpuClass = inventory.GpuClass;
type GpuHealth = inventory.GpuHealth;
type ReportedHealth = inventory.ReportedHealth;

/**
 * The physical fleet as the inventory decides on it: site -> hall -> rack -> node -> GPU.
 *
 * A `Fleet` may be the whole fleet or only the slice a command needs (the handler loads the site,
 * hall and rack in question and the GPUs the command names). `drawW` is the nominal draw of the
 * nodes in service below a place, kept as a running sum so a slice can check power without loading
 * every node.
 */
export interface SiteState {
  siteId: string;
  name: string;
  powerCapW: number;
  drawW: number;
}

export interface HallState {
  hallId: string;
  siteId: string;
  name: string;
  powerCapW: number;
  drawW: number;
}

export interface RackState {
  rackId: string;
  hallId: string;
  siteId: string;
  gpuClass: GpuClass;
  form: inventory.RackForm;
  nvlinkDomain: string | null;
  powerBudgetW: number;
  drawW: number;
  draining: boolean;
  /** Nodes in service in the rack (decommissioned ones left out). */
  nodesInService: number;
}

export interface NodeState {
  nodeId: string;
  rackId: string;
  hallId: string;
  siteId: string;
  gpuClass: GpuClass;
  nominalPowerW: number;
  draining: boolean;
  decommissioned: boolean;
  gpuIds: string[];
}

export interface GpuState {
  gpuId: string;
  nodeId: string;
  rackId: string;
  hallId: string;
  gpuClass: GpuClass;
  memoryGb: number;
  nvlinkDomain: string;
  /** Last health reported by the node agent or an operator; kept while the GPU drains. */
  reported: ReportedHealth;
  /** Effective health (see `effectiveHealth`). */
  health: GpuHealth;
}

export interface Fleet {
  sites: Map<string, SiteState>;
  halls: Map<string, HallState>;
  racks: Map<string, RackState>;
  nodes: Map<string, NodeState>;
  gpus: Map<string, GpuState>;
}

export function emptyFleet(): Fleet {
  return { sites: new Map(), halls: new Map(), racks: new Map(), nodes: new Map(), gpus: new Map() };
}

/** Decommissioned beats draining, draining beats what was reported. */
export function effectiveHealth(
  reported: ReportedHealth,
  node: Pick<NodeState, 'draining' | 'decommissioned'>,
  rackDraining: boolean,
): GpuHealth {
  if (node.decommissioned) return 'decommissioned';
  if (node.draining || rackDraining) return 'draining';
  return reported;
}
