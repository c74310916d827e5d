import { EventEnvelope, inventory } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';

export const INVENTORY_CONSUMER = 'allocation-inventory';

/**
 * Each GPU's class and effective health as inventory reported it: the denominator of utilization.
 *
 * One code path for one event and for many (`applyFleetGpuEvents`): runs of NodesCommissioned become
 * one upsert, and the health changes between them are folded to each GPU's last health and written
 * with one update, in event order, so the rows are the same as applying the events one by one.
 */
export const fleetGpusProjection: Projection = {
  name: 'allocation-fleet-gpus',
  source: { kind: 'inbox', consumer: INVENTORY_CONSUMER },
  tables: ['fleet_gpus'],
  apply: (tx, envelope, schema) => applyFleetGpuEvents(tx, [envelope], schema),
  applyBatch: (tx, envelopes, schema) => applyFleetGpuEvents(tx, envelopes, schema),
};

export async function applyFleetGpuEvents(
  tx: Queryable,
  envelopes: readonly EventEnvelope[],
  schema: string,
): Promise<void> {
  const s = `"${schema}"`;
  /** GPU id -> health: rows commissioned (upserted) and health set on existing rows, in order. */
  let commissioned = new Map<string, { gpuClass: string; nodeId: string; health: string }>();
  let health = new Map<string, string>();
  const flushCommissioned = async () => {
    if (commissioned.size === 0) return;
    const rows = [...commissioned].map(([gpuId, g]) => ({ gpuId, ...g }));
    commissioned = new Map();
    await tx.query(
      `INSERT INTO ${s}.fleet_gpus SELECT "gpuId", "gpuClass", "nodeId", health
         FROM jsonb_to_recordset($1::jsonb) AS r("gpuId" text, "gpuClass" text, "nodeId" text, health text)
       ON CONFLICT (gpu_id) DO UPDATE SET health = EXCLUDED.health`,
      [JSON.stringify(rows)],
    );
  };
  const flushHealth = async () => {
    if (health.size === 0) return;
    const rows = [...health].map(([gpuId, h]) => ({ gpuId, health: h }));
    health = new Map();
    await tx.query(
      `UPDATE ${s}.fleet_gpus g SET health = u.health
         FROM jsonb_to_recordset($1::jsonb) AS u("gpuId" text, health text) WHERE g.gpu_id = u."gpuId"`,
      [JSON.stringify(rows)],
    );
  };
  const setHealth = async (gpuIds: readonly string[], value: string) => {
    if (commissioned.size > 0) await flushCommissioned();
    for (const gpuId of gpuIds) health.set(gpuId, value);
  };

  for (const envelope of envelopes) {
    const event = envelope as unknown as inventory.InventoryEvent;
    switch (event.type) {
      case 'inventory.NodesCommissioned':
        if (health.size > 0) await flushHealth();
        for (const node of event.payload.nodes)
          for (const g of node.gpus) {
            // A repeated GPU keeps its first class and node and takes the last health (the upsert's rule).
            const seen = commissioned.get(g.gpuId);
            if (seen) seen.health = g.health;
            else
              commissioned.set(g.gpuId, {
                gpuClass: event.payload.gpuClass,
                nodeId: node.nodeId,
                health: g.health,
              });
          }
        break;
      case 'inventory.GpuHealthChanged':
        await setHealth([event.payload.gpuId], event.payload.health);
        break;
      case 'inventory.NodeDrainStarted':
      case 'inventory.RackDrainStarted':
        await setHealth(event.payload.gpuIds, 'draining');
        break;
      case 'inventory.NodeUndrained':
      case 'inventory.RackUndrained':
        for (const gpu of event.payload.gpus) await setHealth([gpu.gpuId], gpu.health);
        break;
      case 'inventory.NodeDecommissioned':
        await setHealth(event.payload.gpuIds, 'decommissioned');
        break;
    }
  }
  await flushCommissioned();
  await flushHealth();
}
