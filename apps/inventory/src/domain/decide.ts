import { inventory } from '@fleetledger/contracts';
import {
  ChangePowerBudget,
  CommissionNodes,
  DecommissionNode,
  DrainNode,
  DrainRack,
  InventoryCommand,
  RegisterHall,
  RegisterRack,
  RegisterSite,
  ReportGpuHealth,
} from './commands';
import { effectiveHealth, Fleet, NodeState, RackState } from './fleet';
import { reject, Rejection } from './rejection';

type InventoryEvent = inventory.InventoryEvent;

/**
 * The events a command causes, or why it is refused. An empty list means the fleet is already as
 * asked (a retried or re-imported command changes nothing). Pure: reads `fleet`, never changes it.
 */
export type Decision = InventoryEvent[] | Rejection;

/** A GB200 NVL72 rack holds 72 GPUs: 18 compute trays of 4. */
export const NVL72_GPUS_PER_RACK = 72;

export function decide(fleet: Fleet, command: InventoryCommand): Decision {
  switch (command.kind) {
    case 'register-site':
      return registerSite(fleet, command.body);
    case 'register-hall':
      return registerHall(fleet, command.body);
    case 'register-rack':
      return registerRack(fleet, command.body);
    case 'commission-nodes':
      return commissionNodes(fleet, command.body);
    case 'report-gpu-health':
      return reportGpuHealth(fleet, command.body);
    case 'drain-node':
      return drainNode(fleet, command.body);
    case 'undrain-node':
      return undrainNode(fleet, command.body);
    case 'drain-rack':
      return drainRack(fleet, command.body);
    case 'undrain-rack':
      return undrainRack(fleet, command.body);
    case 'decommission-node':
      return decommissionNode(fleet, command.body);
    case 'change-power-budget':
      return changePowerBudget(fleet, command.body);
  }
}

function registerSite(fleet: Fleet, c: RegisterSite): Decision {
  const existing = fleet.sites.get(c.siteId);
  if (existing) {
    return existing.name === c.name && existing.powerCapW === c.powerCapW
      ? []
      : reject(
          'already-registered',
          `site ${c.siteId} exists as "${existing.name}" with cap ${existing.powerCapW} W`,
        );
  }
  return [
    { type: 'inventory.SiteRegistered', payload: { siteId: c.siteId, name: c.name, powerCapW: c.powerCapW } },
  ];
}

function registerHall(fleet: Fleet, c: RegisterHall): Decision {
  if (!fleet.sites.has(c.siteId)) return reject('unknown-site', `no site ${c.siteId}`);
  const existing = fleet.halls.get(c.hallId);
  if (existing) {
    return existing.siteId === c.siteId && existing.name === c.name && existing.powerCapW === c.powerCapW
      ? []
      : reject(
          'already-registered',
          `hall ${c.hallId} exists in site ${existing.siteId} with cap ${existing.powerCapW} W`,
        );
  }
  return [{ type: 'inventory.HallRegistered', payload: { ...c } }];
}

function registerRack(fleet: Fleet, c: RegisterRack): Decision {
  const hall = fleet.halls.get(c.hallId);
  if (!hall) return reject('unknown-hall', `no hall ${c.hallId}`);
  const existing = fleet.racks.get(c.rackId);
  if (existing) {
    return existing.hallId === c.hallId &&
      existing.gpuClass === c.gpuClass &&
      existing.powerBudgetW === c.powerBudgetW
      ? []
      : reject(
          'already-registered',
          `rack ${c.rackId} exists in hall ${existing.hallId} for ${existing.gpuClass} with budget ${existing.powerBudgetW} W`,
        );
  }
  const form = inventory.gpuClassFacts[c.gpuClass].form;
  return [
    {
      type: 'inventory.RackRegistered',
      payload: {
        rackId: c.rackId,
        hallId: c.hallId,
        siteId: hall.siteId,
        gpuClass: c.gpuClass,
        form,
        nvlinkDomain: form === 'nvl72' ? inventory.nvlinkDomainOfRack(c.rackId) : null,
        powerBudgetW: c.powerBudgetW,
      },
    },
  ];
}

function commissionNodes(fleet: Fleet, c: CommissionNodes): Decision {
  const rack = fleet.racks.get(c.rackId);
  if (!rack) return reject('unknown-rack', `no rack ${c.rackId}`);
  const hall = fleet.halls.get(rack.hallId);
  const site = fleet.sites.get(rack.siteId);
  if (!hall || !site)
    return reject('unknown-hall', `rack ${c.rackId} has no hall ${rack.hallId} or site ${rack.siteId}`);

  const facts = inventory.gpuClassFacts[rack.gpuClass];
  const seenGpuIds = new Set<string>();
  const seenNodeIds = new Set<string>();
  const nodes: inventory.CommissionedNode[] = [];
  for (const node of c.nodes) {
    if (seenNodeIds.has(node.nodeId))
      return reject('already-registered', `node ${node.nodeId} is twice in the command`);
    seenNodeIds.add(node.nodeId);
    for (const gpu of node.gpus) {
      if (seenGpuIds.has(gpu.gpuId))
        return reject('gpu-in-two-nodes', `GPU ${gpu.gpuId} is twice in the command`);
      seenGpuIds.add(gpu.gpuId);
    }

    const existing = fleet.nodes.get(node.nodeId);
    if (existing) {
      if (sameNode(existing, c.rackId, node.nominalPowerW, node.gpus)) continue;
      return reject(
        'already-registered',
        `node ${node.nodeId} is already commissioned in rack ${existing.rackId} with other GPUs or power`,
      );
    }
    if (node.gpus.length !== facts.gpusPerNode) {
      return reject(
        'invalid-node-shape',
        `a ${rack.gpuClass} node has ${facts.gpusPerNode} GPUs, node ${node.nodeId} lists ${node.gpus.length}`,
      );
    }
    for (const gpu of node.gpus) {
      const other = fleet.gpus.get(gpu.gpuId);
      if (other) return reject('gpu-in-two-nodes', `GPU ${gpu.gpuId} is already in node ${other.nodeId}`);
    }
    nodes.push({
      nodeId: node.nodeId,
      nominalPowerW: node.nominalPowerW,
      gpus: node.gpus.map((gpu) => ({
        gpuId: gpu.gpuId,
        memoryGb: gpu.memoryGb ?? facts.memoryGb,
        nvlinkDomain: rack.nvlinkDomain ?? inventory.nvlinkDomainOfNode(node.nodeId),
        health: rack.draining ? 'draining' : 'healthy',
      })),
    });
  }
  if (nodes.length === 0) return [];

  if (rack.form === 'nvl72') {
    const gpusAfter = (rack.nodesInService + nodes.length) * facts.gpusPerNode;
    if (gpusAfter > NVL72_GPUS_PER_RACK) {
      return reject(
        'rack-full',
        `NVL72 rack ${rack.rackId} would hold ${gpusAfter} GPUs, at most ${NVL72_GPUS_PER_RACK}`,
      );
    }
  }
  const addedW = nodes.reduce((sum, n) => sum + n.nominalPowerW, 0);
  if (rack.drawW + addedW > rack.powerBudgetW) {
    return reject(
      'rack-power-budget-exceeded',
      `rack ${rack.rackId}: ${rack.drawW} W + ${addedW} W exceeds its budget of ${rack.powerBudgetW} W`,
    );
  }
  if (hall.drawW + addedW > hall.powerCapW) {
    return reject(
      'hall-power-cap-exceeded',
      `hall ${hall.hallId}: ${hall.drawW} W + ${addedW} W exceeds its cap of ${hall.powerCapW} W`,
    );
  }
  if (site.drawW + addedW > site.powerCapW) {
    return reject(
      'site-power-cap-exceeded',
      `site ${site.siteId}: ${site.drawW} W + ${addedW} W exceeds its cap of ${site.powerCapW} W`,
    );
  }
  return [
    {
      type: 'inventory.NodesCommissioned',
      payload: {
        rackId: rack.rackId,
        hallId: rack.hallId,
        siteId: rack.siteId,
        gpuClass: rack.gpuClass,
        nodes,
        rackDrawW: rack.drawW + addedW,
      },
    },
  ];
}

function sameNode(
  existing: NodeState,
  rackId: string,
  nominalPowerW: number,
  gpus: readonly { gpuId: string }[],
): boolean {
  return (
    existing.rackId === rackId &&
    existing.nominalPowerW === nominalPowerW &&
    existing.gpuIds.length === gpus.length &&
    gpus.every((gpu, i) => existing.gpuIds[i] === gpu.gpuId)
  );
}

function reportGpuHealth(fleet: Fleet, c: ReportGpuHealth): Decision {
  const gpu = fleet.gpus.get(c.gpuId);
  if (!gpu) return reject('unknown-gpu', `no GPU ${c.gpuId}`);
  const placed = nodeAndRack(fleet, gpu.nodeId);
  if (!placed) return reject('unknown-node', `GPU ${c.gpuId} has no node ${gpu.nodeId} loaded`);
  const { node, rack } = placed;
  if (node.decommissioned)
    return reject('node-decommissioned', `GPU ${c.gpuId} left the fleet with node ${node.nodeId}`);
  if (gpu.reported === c.health) return [];
  return [
    {
      type: 'inventory.GpuHealthChanged',
      payload: {
        gpuId: gpu.gpuId,
        nodeId: gpu.nodeId,
        rackId: gpu.rackId,
        hallId: gpu.hallId,
        gpuClass: gpu.gpuClass,
        from: gpu.reported,
        to: c.health,
        health: effectiveHealth(c.health, node, rack.draining),
        reason: c.reason,
      },
    },
  ];
}

function drainNode(fleet: Fleet, c: DrainNode): Decision {
  const placed = nodeAndRack(fleet, c.nodeId);
  if (!placed) return reject('unknown-node', `no node ${c.nodeId}`);
  const { node } = placed;
  if (node.decommissioned) return reject('node-decommissioned', `node ${c.nodeId} is decommissioned`);
  if (node.draining) return [];
  return [
    {
      type: 'inventory.NodeDrainStarted',
      payload: {
        nodeId: node.nodeId,
        rackId: node.rackId,
        hallId: node.hallId,
        gpuClass: node.gpuClass,
        gpuIds: [...node.gpuIds],
        reason: c.reason,
      },
    },
  ];
}

function undrainNode(fleet: Fleet, c: DrainNode): Decision {
  const placed = nodeAndRack(fleet, c.nodeId);
  if (!placed) return reject('unknown-node', `no node ${c.nodeId}`);
  const { node, rack } = placed;
  if (node.decommissioned) return reject('node-decommissioned', `node ${c.nodeId} is decommissioned`);
  if (!node.draining) return [];
  return [
    {
      type: 'inventory.NodeUndrained',
      payload: {
        nodeId: node.nodeId,
        rackId: node.rackId,
        hallId: node.hallId,
        gpuClass: node.gpuClass,
        gpus: gpusAfter(fleet, node, { draining: false, decommissioned: false }, rack.draining),
        reason: c.reason,
      },
    },
  ];
}

function drainRack(fleet: Fleet, c: DrainRack): Decision {
  const rack = fleet.racks.get(c.rackId);
  if (!rack) return reject('unknown-rack', `no rack ${c.rackId}`);
  if (rack.draining) return [];
  const nodes = nodesInService(fleet, rack);
  return [
    {
      type: 'inventory.RackDrainStarted',
      payload: {
        rackId: rack.rackId,
        hallId: rack.hallId,
        gpuClass: rack.gpuClass,
        nodeIds: nodes.map((n) => n.nodeId),
        gpuIds: nodes.flatMap((n) => n.gpuIds),
        reason: c.reason,
      },
    },
  ];
}

function undrainRack(fleet: Fleet, c: DrainRack): Decision {
  const rack = fleet.racks.get(c.rackId);
  if (!rack) return reject('unknown-rack', `no rack ${c.rackId}`);
  if (!rack.draining) return [];
  return [
    {
      type: 'inventory.RackUndrained',
      payload: {
        rackId: rack.rackId,
        hallId: rack.hallId,
        gpuClass: rack.gpuClass,
        gpus: nodesInService(fleet, rack).flatMap((node) => gpusAfter(fleet, node, node, false)),
        reason: c.reason,
      },
    },
  ];
}

function decommissionNode(fleet: Fleet, c: DecommissionNode): Decision {
  const placed = nodeAndRack(fleet, c.nodeId);
  if (!placed) return reject('unknown-node', `no node ${c.nodeId}`);
  const { node, rack } = placed;
  if (node.decommissioned) return [];
  if (!node.draining && !rack.draining) {
    return reject(
      'node-not-drained',
      `drain node ${c.nodeId} (or its rack) before decommissioning it, so its work moves off first`,
    );
  }
  return [
    {
      type: 'inventory.NodeDecommissioned',
      payload: {
        nodeId: node.nodeId,
        rackId: node.rackId,
        hallId: node.hallId,
        siteId: node.siteId,
        gpuClass: node.gpuClass,
        gpuIds: [...node.gpuIds],
        releasedPowerW: node.nominalPowerW,
        rackDrawW: rack.drawW - node.nominalPowerW,
        reason: c.reason,
      },
    },
  ];
}

function changePowerBudget(fleet: Fleet, c: ChangePowerBudget): Decision {
  let current: { budgetW: number; drawW: number; siteId: string; hallId: string | null };
  if (c.scope === 'site') {
    const site = fleet.sites.get(c.scopeId);
    if (!site) return reject('unknown-site', `no site ${c.scopeId}`);
    current = { budgetW: site.powerCapW, drawW: site.drawW, siteId: site.siteId, hallId: null };
  } else if (c.scope === 'hall') {
    const hall = fleet.halls.get(c.scopeId);
    if (!hall) return reject('unknown-hall', `no hall ${c.scopeId}`);
    current = { budgetW: hall.powerCapW, drawW: hall.drawW, siteId: hall.siteId, hallId: hall.hallId };
  } else {
    const rack = fleet.racks.get(c.scopeId);
    if (!rack) return reject('unknown-rack', `no rack ${c.scopeId}`);
    current = { budgetW: rack.powerBudgetW, drawW: rack.drawW, siteId: rack.siteId, hallId: rack.hallId };
  }
  // One power model with allocation (contracts inventory/power.ts): a budget may cap the nominal
  // draw (allocation then admits placements only within it), but not the idle draw no placement can lower.
  const idleW = inventory.idleDrawW(current.drawW);
  if (c.budgetW < idleW) {
    return reject(
      'budget-below-draw',
      `${c.scope} ${c.scopeId} draws ${idleW} W idle (${inventory.IDLE_POWER_PERCENT}% of ${current.drawW} W nominal), more than the ${c.budgetW} W asked`,
    );
  }
  if (c.budgetW === current.budgetW) return [];
  return [
    {
      type: 'inventory.PowerBudgetChanged',
      payload: {
        scope: c.scope,
        scopeId: c.scopeId,
        siteId: current.siteId,
        hallId: current.hallId,
        fromW: current.budgetW,
        toW: c.budgetW,
        reason: c.reason,
      },
    },
  ];
}

function nodeAndRack(fleet: Fleet, nodeId: string): { node: NodeState; rack: RackState } | undefined {
  const node = fleet.nodes.get(nodeId);
  const rack = node && fleet.racks.get(node.rackId);
  return node && rack ? { node, rack } : undefined;
}

/** Nodes of a rack still in service, in id order (a fleet slice holds a rack's nodes when it is loaded for a rack command). */
function nodesInService(fleet: Fleet, rack: RackState): NodeState[] {
  return [...fleet.nodes.values()]
    .filter((n) => n.rackId === rack.rackId && !n.decommissioned)
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

function gpusAfter(
  fleet: Fleet,
  node: NodeState,
  nodeAfter: Pick<NodeState, 'draining' | 'decommissioned'>,
  rackDraining: boolean,
): { gpuId: string; nodeId: string; health: inventory.GpuHealth }[] {
  return node.gpuIds.map((gpuId) => {
    const gpu = fleet.gpus.get(gpuId);
    // The slice loader always loads a node's GPUs with the node: a missing one is a bug, not a business case.
    if (!gpu) throw new Error(`fleet slice holds node ${node.nodeId} without its GPU ${gpuId}`);
    return { gpuId, nodeId: node.nodeId, health: effectiveHealth(gpu.reported, nodeAfter, rackDraining) };
  });
}
