import { EventEnvelope, inventory } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';

export const INVENTORY_CONSUMER = 'allocation-inventory';

/** Each GPU's class and effective health as inventory reported it: the denominator of utilization. */
export const fleetGpusProjection: Projection = {
  name: 'allocation-fleet-gpus',
  source: { kind: 'inbox', consumer: INVENTORY_CONSUMER },
  tables: ['fleet_gpus'],
  async apply(tx: Queryable, envelope: EventEnvelope, schema: string) {
    const s = `"${schema}"`;
    const event = envelope as unknown as inventory.InventoryEvent;
    const setHealth = (gpuIds: string[], health: string) =>
      tx.query(`UPDATE ${s}.fleet_gpus SET health = $2 WHERE gpu_id = ANY($1::text[])`, [gpuIds, health]);
    switch (event.type) {
      case 'inventory.NodesCommissioned': {
        const gpus = event.payload.nodes.flatMap((node) =>
          node.gpus.map((g) => ({ ...g, nodeId: node.nodeId })),
        );
        await tx.query(
          `INSERT INTO ${s}.fleet_gpus SELECT g, $2, n, h FROM unnest($1::text[], $3::text[], $4::text[]) AS t(g, n, h)
           ON CONFLICT (gpu_id) DO UPDATE SET health = EXCLUDED.health`,
          [
            gpus.map((g) => g.gpuId),
            event.payload.gpuClass,
            gpus.map((g) => g.nodeId),
            gpus.map((g) => g.health),
          ],
        );
        return;
      }
      case 'inventory.GpuHealthChanged':
        await setHealth([event.payload.gpuId], event.payload.health);
        return;
      case 'inventory.NodeDrainStarted':
      case 'inventory.RackDrainStarted':
        await setHealth(event.payload.gpuIds, 'draining');
        return;
      case 'inventory.NodeUndrained':
      case 'inventory.RackUndrained':
        for (const gpu of event.payload.gpus) await setHealth([gpu.gpuId], gpu.health);
        return;
      case 'inventory.NodeDecommissioned':
        await setHealth(event.payload.gpuIds, 'decommissioned');
        return;
    }
  },
};
