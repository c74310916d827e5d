import { inventory, payloadsOf } from '@fleetledger/contracts';
import { ident, Projection, Queryable } from '@fleetledger/eventstore';

type Event = inventory.InventoryEvent;

export const FLEET_TABLES = [
  'sites',
  'halls',
  'racks',
  'nodes',
  'gpus',
  'rack_health_counts',
  'class_health_counts',
] as const;

/**
 * The fleet read model, updated inline in the append's transaction. It is also the state commands
 * are decided on (handlers/fleet-slice.ts loads a slice of it), so it is always exactly the log.
 *
 * `applyFleetEvents` takes a list so the bulk import can write a batch of racks with a handful of
 * statements (runs of RackRegistered and NodesCommissioned become one multi-row insert each); the
 * result is the same as applying the events one by one, which is what a rebuild does.
 */
export const fleetProjection: Projection = {
  name: 'fleet',
  source: { kind: 'log' },
  tables: FLEET_TABLES,
  apply: (tx, event, schema) => applyFleetEvents(tx, [event].filter(inventory.isInventoryEvent), schema),
  applyBatch: (tx, events, schema) => applyFleetEvents(tx, events.filter(inventory.isInventoryEvent), schema),
};

export async function applyFleetEvents(
  tx: Queryable,
  events: readonly Event[],
  schema: string,
): Promise<void> {
  const s = ident(schema);
  const touchedRacks = new Set<string>();
  for (let i = 0; i < events.length;) {
    const type = events[i].type;
    let end = i + 1;
    while (end < events.length && events[end].type === type) end++;
    const run = events.slice(i, end);
    if (type === 'inventory.RackRegistered')
      await insertRacks(tx, s, payloadsOf(inventory.RackRegistered, run));
    else if (type === 'inventory.NodesCommissioned') {
      const batch = payloadsOf(inventory.NodesCommissioned, run);
      await insertNodes(tx, s, batch);
      for (const p of batch) touchedRacks.add(p.rackId);
    } else {
      for (const event of run) {
        const rackId = await applyOne(tx, s, event);
        if (rackId) touchedRacks.add(rackId);
      }
    }
    i = end;
  }
  if (touchedRacks.size > 0) await recountRacks(tx, s, [...touchedRacks]);
}

/** Applies one event; returns the rack whose GPU health counts it changed. */
async function applyOne(tx: Queryable, s: string, event: Event): Promise<string | undefined> {
  switch (event.type) {
    case 'inventory.SiteRegistered': {
      const p = event.payload;
      await tx.query(`INSERT INTO ${s}.sites VALUES ($1, $2, $3, 0)`, [p.siteId, p.name, p.powerCapW]);
      return undefined;
    }
    case 'inventory.HallRegistered': {
      const p = event.payload;
      await tx.query(`INSERT INTO ${s}.halls VALUES ($1, $2, $3, $4, 0)`, [
        p.hallId,
        p.siteId,
        p.name,
        p.powerCapW,
      ]);
      return undefined;
    }
    case 'inventory.RackRegistered':
      await insertRacks(tx, s, [event.payload]);
      return undefined;
    case 'inventory.NodesCommissioned':
      await insertNodes(tx, s, [event.payload]);
      return event.payload.rackId;
    case 'inventory.GpuHealthChanged': {
      const p = event.payload;
      await tx.query(`UPDATE ${s}.gpus SET reported_health = $2, health = $3 WHERE gpu_id = $1`, [
        p.gpuId,
        p.to,
        p.health,
      ]);
      return p.rackId;
    }
    case 'inventory.NodeDrainStarted': {
      const p = event.payload;
      await tx.query(`UPDATE ${s}.nodes SET draining = true WHERE node_id = $1`, [p.nodeId]);
      await tx.query(`UPDATE ${s}.gpus SET health = 'draining' WHERE gpu_id = ANY($1::text[])`, [p.gpuIds]);
      return p.rackId;
    }
    case 'inventory.RackDrainStarted': {
      const p = event.payload;
      await tx.query(`UPDATE ${s}.racks SET draining = true WHERE rack_id = $1`, [p.rackId]);
      await tx.query(`UPDATE ${s}.gpus SET health = 'draining' WHERE gpu_id = ANY($1::text[])`, [p.gpuIds]);
      return p.rackId;
    }
    case 'inventory.NodeUndrained': {
      const p = event.payload;
      await tx.query(`UPDATE ${s}.nodes SET draining = false WHERE node_id = $1`, [p.nodeId]);
      await setGpuHealth(tx, s, p.gpus);
      return p.rackId;
    }
    case 'inventory.RackUndrained': {
      const p = event.payload;
      await tx.query(`UPDATE ${s}.racks SET draining = false WHERE rack_id = $1`, [p.rackId]);
      await setGpuHealth(tx, s, p.gpus);
      return p.rackId;
    }
    case 'inventory.NodeDecommissioned': {
      const p = event.payload;
      await tx.query(`UPDATE ${s}.nodes SET decommissioned = true WHERE node_id = $1`, [p.nodeId]);
      await tx.query(`UPDATE ${s}.gpus SET health = 'decommissioned' WHERE gpu_id = ANY($1::text[])`, [
        p.gpuIds,
      ]);
      await tx.query(
        `UPDATE ${s}.racks SET draw_w = $2, nodes_in_service = nodes_in_service - 1 WHERE rack_id = $1`,
        [p.rackId, p.rackDrawW],
      );
      await tx.query(`UPDATE ${s}.halls SET draw_w = draw_w - $2 WHERE hall_id = $1`, [
        p.hallId,
        p.releasedPowerW,
      ]);
      await tx.query(`UPDATE ${s}.sites SET draw_w = draw_w - $2 WHERE site_id = $1`, [
        p.siteId,
        p.releasedPowerW,
      ]);
      return p.rackId;
    }
    case 'inventory.PowerBudgetChanged': {
      const p = event.payload;
      if (p.scope === 'site')
        await tx.query(`UPDATE ${s}.sites SET power_cap_w = $2 WHERE site_id = $1`, [p.scopeId, p.toW]);
      else if (p.scope === 'hall')
        await tx.query(`UPDATE ${s}.halls SET power_cap_w = $2 WHERE hall_id = $1`, [p.scopeId, p.toW]);
      else await tx.query(`UPDATE ${s}.racks SET power_budget_w = $2 WHERE rack_id = $1`, [p.scopeId, p.toW]);
      return undefined;
    }
  }
}

async function insertRacks(
  tx: Queryable,
  s: string,
  racks: readonly inventory.RackRegisteredPayload[],
): Promise<void> {
  await tx.query(
    `INSERT INTO ${s}.racks (rack_id, hall_id, site_id, gpu_class, form, nvlink_domain, power_budget_w, draw_w, draining, nodes_in_service)
     SELECT r, h, si, c, f, d, b, 0, false, 0
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS v(r, h, si, c, f, d, b)`,
    [
      racks.map((r) => r.rackId),
      racks.map((r) => r.hallId),
      racks.map((r) => r.siteId),
      racks.map((r) => r.gpuClass),
      racks.map((r) => r.form),
      racks.map((r) => r.nvlinkDomain),
      racks.map((r) => r.powerBudgetW),
    ],
  );
}

async function insertNodes(
  tx: Queryable,
  s: string,
  batches: readonly inventory.NodesCommissionedPayload[],
): Promise<void> {
  const nodes = batches.flatMap((b) => b.nodes.map((node) => ({ b, node })));
  await tx.query(
    `INSERT INTO ${s}.nodes (node_id, rack_id, hall_id, site_id, gpu_class, nominal_power_w, draining, decommissioned, gpu_ids)
     SELECT n, r, h, si, c, w, false, false, string_to_array(g, ',')
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[]) AS v(n, r, h, si, c, w, g)`,
    [
      nodes.map((x) => x.node.nodeId),
      nodes.map((x) => x.b.rackId),
      nodes.map((x) => x.b.hallId),
      nodes.map((x) => x.b.siteId),
      nodes.map((x) => x.b.gpuClass),
      nodes.map((x) => x.node.nominalPowerW),
      nodes.map((x) => x.node.gpus.map((g) => g.gpuId).join(',')),
    ],
  );
  const gpus = nodes.flatMap(({ b, node }) => node.gpus.map((gpu) => ({ b, node, gpu })));
  await tx.query(
    `INSERT INTO ${s}.gpus (gpu_id, node_id, rack_id, hall_id, gpu_class, memory_gb, nvlink_domain, reported_health, health)
     SELECT g, n, r, h, c, m, d, 'healthy', e
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[]) AS v(g, n, r, h, c, m, d, e)`,
    [
      gpus.map((x) => x.gpu.gpuId),
      gpus.map((x) => x.node.nodeId),
      gpus.map((x) => x.b.rackId),
      gpus.map((x) => x.b.hallId),
      gpus.map((x) => x.b.gpuClass),
      gpus.map((x) => x.gpu.memoryGb),
      gpus.map((x) => x.gpu.nvlinkDomain),
      gpus.map((x) => x.gpu.health),
    ],
  );

  // Draw: the rack's comes in the event; halls and the site add up what was commissioned.
  const rackDraw = new Map<string, { drawW: number; added: number }>();
  const hallAdd = new Map<string, number>();
  const siteAdd = new Map<string, number>();
  for (const b of batches) {
    const addedW = b.nodes.reduce((sum, n) => sum + n.nominalPowerW, 0);
    rackDraw.set(b.rackId, {
      drawW: b.rackDrawW,
      added: (rackDraw.get(b.rackId)?.added ?? 0) + b.nodes.length,
    });
    hallAdd.set(b.hallId, (hallAdd.get(b.hallId) ?? 0) + addedW);
    siteAdd.set(b.siteId, (siteAdd.get(b.siteId) ?? 0) + addedW);
  }
  await tx.query(
    `UPDATE ${s}.racks r SET draw_w = v.d, nodes_in_service = r.nodes_in_service + v.n
       FROM unnest($1::text[], $2::bigint[], $3::int[]) AS v(id, d, n) WHERE r.rack_id = v.id`,
    [
      [...rackDraw.keys()],
      [...rackDraw.values()].map((x) => x.drawW),
      [...rackDraw.values()].map((x) => x.added),
    ],
  );
  await tx.query(
    `UPDATE ${s}.halls h SET draw_w = h.draw_w + v.d FROM unnest($1::text[], $2::bigint[]) AS v(id, d) WHERE h.hall_id = v.id`,
    [[...hallAdd.keys()], [...hallAdd.values()]],
  );
  await tx.query(
    `UPDATE ${s}.sites t SET draw_w = t.draw_w + v.d FROM unnest($1::text[], $2::bigint[]) AS v(id, d) WHERE t.site_id = v.id`,
    [[...siteAdd.keys()], [...siteAdd.values()]],
  );
}

async function setGpuHealth(
  tx: Queryable,
  s: string,
  gpus: readonly { gpuId: string; health: string }[],
): Promise<void> {
  await tx.query(
    `UPDATE ${s}.gpus g SET health = v.health FROM unnest($1::text[], $2::text[]) AS v(id, health) WHERE g.gpu_id = v.id`,
    [gpus.map((g) => g.gpuId), gpus.map((g) => g.health)],
  );
}

/**
 * Recomputes the health counts of some racks from their GPUs (at most 72 each, so cheap and always
 * exact), and moves the per-class counts by the difference.
 */
async function recountRacks(tx: Queryable, s: string, rackIds: string[]): Promise<void> {
  const byClass = `SELECT gpu_class, health, sum(gpus)::int AS gpus FROM ${s}.rack_health_counts WHERE rack_id = ANY($1::text[]) GROUP BY gpu_class, health`;
  const before: { gpu_class: string; health: string; gpus: number }[] = await tx.query(byClass, [rackIds]);
  await tx.query(`DELETE FROM ${s}.rack_health_counts WHERE rack_id = ANY($1::text[])`, [rackIds]);
  await tx.query(
    `INSERT INTO ${s}.rack_health_counts (rack_id, health, hall_id, gpu_class, gpus)
     SELECT rack_id, health, hall_id, gpu_class, count(*)::int FROM ${s}.gpus
      WHERE rack_id = ANY($1::text[]) GROUP BY rack_id, health, hall_id, gpu_class`,
    [rackIds],
  );
  const after: typeof before = await tx.query(byClass, [rackIds]);
  const delta = new Map<string, { gpuClass: string; health: string; gpus: number }>();
  for (const [rows, sign] of [
    [before, -1],
    [after, 1],
  ] as const) {
    for (const row of rows) {
      const key = `${row.gpu_class}/${row.health}`;
      const entry = delta.get(key) ?? { gpuClass: row.gpu_class, health: row.health, gpus: 0 };
      entry.gpus += sign * row.gpus;
      delta.set(key, entry);
    }
  }
  const changed = [...delta.values()].filter((d) => d.gpus !== 0);
  if (changed.length === 0) return;
  await tx.query(
    `INSERT INTO ${s}.class_health_counts (gpu_class, health, gpus)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[])
     ON CONFLICT (gpu_class, health) DO UPDATE SET gpus = ${s}.class_health_counts.gpus + excluded.gpus`,
    [changed.map((d) => d.gpuClass), changed.map((d) => d.health), changed.map((d) => d.gpus)],
  );
  await tx.query(`DELETE FROM ${s}.class_health_counts WHERE gpus = 0`);
}
