import { inventory } from '@fleetledger/contracts';
import { ident, Queryable } from '@fleetledger/eventstore';
import { InventoryCommand } from '../domain/commands';
import { emptyFleet, Fleet } from '../domain/fleet';

/**
 * Loads from the fleet read model the part of the fleet some commands need to be decided: the
 * places they name, the places above them (for power) and, for node and rack commands, the nodes
 * and GPUs below. Called inside the command transaction, after the command lock (see
 * InventoryCommandHandler), so the slice cannot change before the append.
 */
export async function loadFleetSlice(
  db: Queryable,
  schema: string,
  commands: readonly InventoryCommand[],
): Promise<Fleet> {
  const s = ident(schema);
  const want = {
    sites: new Set<string>(),
    halls: new Set<string>(),
    racks: new Set<string>(),
    nodes: new Set<string>(),
    gpus: new Set<string>(),
  };
  /** Racks whose every node and GPU must be loaded (rack drain / undrain). */
  const wholeRacks = new Set<string>();
  /** Nodes whose GPUs must be loaded (their effective health is recomputed). */
  const nodesWithGpus = new Set<string>();

  for (const { kind, body } of commands) {
    switch (kind) {
      case 'register-site':
        want.sites.add(body.siteId);
        break;
      case 'register-hall':
        want.sites.add(body.siteId);
        want.halls.add(body.hallId);
        break;
      case 'register-rack':
        want.halls.add(body.hallId);
        want.racks.add(body.rackId);
        break;
      case 'commission-nodes':
        want.racks.add(body.rackId);
        for (const node of body.nodes) {
          want.nodes.add(node.nodeId);
          for (const gpu of node.gpus) want.gpus.add(gpu.gpuId);
        }
        break;
      case 'report-gpu-health':
        want.gpus.add(body.gpuId);
        break;
      case 'drain-node':
      case 'undrain-node':
      case 'decommission-node':
        want.nodes.add(body.nodeId);
        nodesWithGpus.add(body.nodeId);
        break;
      case 'drain-rack':
      case 'undrain-rack':
        want.racks.add(body.rackId);
        wholeRacks.add(body.rackId);
        break;
      case 'change-power-budget':
        if (body.scope === 'site') want.sites.add(body.scopeId);
        else if (body.scope === 'hall') want.halls.add(body.scopeId);
        else want.racks.add(body.scopeId);
        break;
    }
  }

  const fleet = emptyFleet();
  const addGpus = (rows: Row[]) => {
    for (const row of rows) {
      fleet.gpus.set(row.gpu_id, {
        gpuId: row.gpu_id,
        nodeId: row.node_id,
        rackId: row.rack_id,
        hallId: row.hall_id,
        gpuClass: row.gpu_class,
        memoryGb: row.memory_gb,
        nvlinkDomain: row.nvlink_domain,
        reported: row.reported_health,
        health: row.health,
      });
      want.nodes.add(row.node_id);
    }
  };
  // Dependencies are resolved bottom-up: GPUs name their nodes, nodes their racks, racks their halls.
  addGpus(await selectIn(db, `${s}.gpus`, 'gpu_id', want.gpus));
  const nodeRows = [
    ...(await selectIn(db, `${s}.nodes`, 'node_id', want.nodes)),
    ...(await selectIn(db, `${s}.nodes`, 'rack_id', wholeRacks)),
  ];
  const moreGpus = new Set<string>();
  for (const row of nodeRows) {
    fleet.nodes.set(row.node_id, {
      nodeId: row.node_id,
      rackId: row.rack_id,
      hallId: row.hall_id,
      siteId: row.site_id,
      gpuClass: row.gpu_class,
      nominalPowerW: Number(row.nominal_power_w),
      draining: row.draining,
      decommissioned: row.decommissioned,
      gpuIds: row.gpu_ids,
    });
    want.racks.add(row.rack_id);
    if (nodesWithGpus.has(row.node_id) || wholeRacks.has(row.rack_id)) {
      for (const id of row.gpu_ids) if (!fleet.gpus.has(id)) moreGpus.add(id);
    }
  }
  addGpus(await selectIn(db, `${s}.gpus`, 'gpu_id', moreGpus));
  for (const row of await selectIn(db, `${s}.racks`, 'rack_id', want.racks)) {
    fleet.racks.set(row.rack_id, {
      rackId: row.rack_id,
      hallId: row.hall_id,
      siteId: row.site_id,
      gpuClass: row.gpu_class,
      form: row.form,
      nvlinkDomain: row.nvlink_domain,
      powerBudgetW: Number(row.power_budget_w),
      drawW: Number(row.draw_w),
      draining: row.draining,
      nodesInService: row.nodes_in_service,
    });
    want.halls.add(row.hall_id);
  }
  for (const row of await selectIn(db, `${s}.halls`, 'hall_id', want.halls)) {
    fleet.halls.set(row.hall_id, {
      hallId: row.hall_id,
      siteId: row.site_id,
      name: row.name,
      powerCapW: Number(row.power_cap_w),
      drawW: Number(row.draw_w),
    });
    want.sites.add(row.site_id);
  }
  for (const row of await selectIn(db, `${s}.sites`, 'site_id', want.sites)) {
    fleet.sites.set(row.site_id, {
      siteId: row.site_id,
      name: row.name,
      powerCapW: Number(row.power_cap_w),
      drawW: Number(row.draw_w),
    });
  }
  return fleet;
}

// Rows as pg returns them: bigint columns come back as strings.
interface Row {
  [column: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  gpu_class: inventory.GpuClass;
}

async function selectIn(db: Queryable, table: string, column: string, ids: Set<string>): Promise<Row[]> {
  if (ids.size === 0) return [];
  return db.query<Row[]>(`SELECT * FROM ${table} WHERE ${column} = ANY($1::text[])`, [[...ids]]);
}
