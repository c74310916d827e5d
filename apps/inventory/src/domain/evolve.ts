import { inventory } from '@fleetledger/contracts';
import { Fleet } from './fleet';

/**
 * Applies one inventory event to a fleet, IN PLACE, and returns it. A fleet of 220,000 GPUs is too
 * big to copy per event; callers that need the old state keep their own. Places the fleet does not
 * hold (a slice) are skipped: an event only touches what is loaded.
 */
export function evolve(fleet: Fleet, event: inventory.InventoryEvent): Fleet {
  switch (event.type) {
    case 'inventory.SiteRegistered': {
      const p = event.payload;
      fleet.sites.set(p.siteId, { siteId: p.siteId, name: p.name, powerCapW: p.powerCapW, drawW: 0 });
      break;
    }
    case 'inventory.HallRegistered': {
      const p = event.payload;
      fleet.halls.set(p.hallId, {
        hallId: p.hallId,
        siteId: p.siteId,
        name: p.name,
        powerCapW: p.powerCapW,
        drawW: 0,
      });
      break;
    }
    case 'inventory.RackRegistered': {
      const p = event.payload;
      fleet.racks.set(p.rackId, {
        rackId: p.rackId,
        hallId: p.hallId,
        siteId: p.siteId,
        gpuClass: p.gpuClass,
        form: p.form,
        nvlinkDomain: p.nvlinkDomain,
        powerBudgetW: p.powerBudgetW,
        drawW: 0,
        draining: false,
        nodesInService: 0,
      });
      break;
    }
    case 'inventory.NodesCommissioned': {
      const p = event.payload;
      let addedW = 0;
      for (const node of p.nodes) {
        addedW += node.nominalPowerW;
        fleet.nodes.set(node.nodeId, {
          nodeId: node.nodeId,
          rackId: p.rackId,
          hallId: p.hallId,
          siteId: p.siteId,
          gpuClass: p.gpuClass,
          nominalPowerW: node.nominalPowerW,
          draining: false,
          decommissioned: false,
          gpuIds: node.gpus.map((g) => g.gpuId),
        });
        for (const gpu of node.gpus) {
          fleet.gpus.set(gpu.gpuId, {
            gpuId: gpu.gpuId,
            nodeId: node.nodeId,
            rackId: p.rackId,
            hallId: p.hallId,
            gpuClass: p.gpuClass,
            memoryGb: gpu.memoryGb,
            nvlinkDomain: gpu.nvlinkDomain,
            reported: 'healthy',
            health: gpu.health,
          });
        }
      }
      const rack = fleet.racks.get(p.rackId);
      if (rack) {
        rack.drawW = p.rackDrawW;
        rack.nodesInService += p.nodes.length;
      }
      addDraw(fleet, p.hallId, p.siteId, addedW);
      break;
    }
    case 'inventory.GpuHealthChanged': {
      const gpu = fleet.gpus.get(event.payload.gpuId);
      if (gpu) {
        gpu.reported = event.payload.to;
        gpu.health = event.payload.health;
      }
      break;
    }
    case 'inventory.NodeDrainStarted': {
      const node = fleet.nodes.get(event.payload.nodeId);
      if (node) node.draining = true;
      setHealth(fleet, event.payload.gpuIds, 'draining');
      break;
    }
    case 'inventory.RackDrainStarted': {
      const rack = fleet.racks.get(event.payload.rackId);
      if (rack) rack.draining = true;
      setHealth(fleet, event.payload.gpuIds, 'draining');
      break;
    }
    case 'inventory.NodeUndrained': {
      const node = fleet.nodes.get(event.payload.nodeId);
      if (node) node.draining = false;
      for (const g of event.payload.gpus) setHealth(fleet, [g.gpuId], g.health);
      break;
    }
    case 'inventory.RackUndrained': {
      const rack = fleet.racks.get(event.payload.rackId);
      if (rack) rack.draining = false;
      for (const g of event.payload.gpus) setHealth(fleet, [g.gpuId], g.health);
      break;
    }
    case 'inventory.NodeDecommissioned': {
      const p = event.payload;
      const node = fleet.nodes.get(p.nodeId);
      if (node) node.decommissioned = true;
      setHealth(fleet, p.gpuIds, 'decommissioned');
      const rack = fleet.racks.get(p.rackId);
      if (rack) {
        rack.drawW = p.rackDrawW;
        rack.nodesInService -= 1;
      }
      addDraw(fleet, p.hallId, p.siteId, -p.releasedPowerW);
      break;
    }
    case 'inventory.PowerBudgetChanged': {
      const p = event.payload;
      if (p.scope === 'site') {
        const site = fleet.sites.get(p.scopeId);
        if (site) site.powerCapW = p.toW;
      } else if (p.scope === 'hall') {
        const hall = fleet.halls.get(p.scopeId);
        if (hall) hall.powerCapW = p.toW;
      } else {
        const rack = fleet.racks.get(p.scopeId);
        if (rack) rack.powerBudgetW = p.toW;
      }
      break;
    }
  }
  return fleet;
}

export function evolveAll(fleet: Fleet, events: readonly inventory.InventoryEvent[]): Fleet {
  for (const event of events) evolve(fleet, event);
  return fleet;
}

function addDraw(fleet: Fleet, hallId: string, siteId: string, deltaW: number): void {
  const hall = fleet.halls.get(hallId);
  if (hall) hall.drawW += deltaW;
  const site = fleet.sites.get(siteId);
  if (site) site.drawW += deltaW;
}

function setHealth(fleet: Fleet, gpuIds: readonly string[], health: inventory.GpuHealth): void {
  for (const id of gpuIds) {
    const gpu = fleet.gpus.get(id);
    if (gpu) gpu.health = health;
  }
}
