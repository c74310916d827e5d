import { EventEnvelope } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';
import { fleetDelta, GpuHealth, healthChangesOf } from '../domain/fleet-capacity';

export const FLEET_CONSUMER = 'metering-fleet';

/**
 * The fleet's healthy and in-service GPU counts per class over time, from inventory's events as the
 * metering-fleet consumer took them in (so a replay of its inbox rebuilds it exactly). Time is the
 * event's occurredAt; no clock.
 */
export const fleetProjection: Projection = {
  name: 'metering-fleet',
  source: { kind: 'inbox', consumer: FLEET_CONSUMER },
  tables: ['fleet_gpus', 'fleet_class_changes'],
  async apply(tx: Queryable, event: EventEnvelope, schema: string) {
    const read = healthChangesOf(event);
    if (!read || read.changes.length === 0) return;
    const s = `"${schema}"`;
    const rows = await tx.query<{ gpu_id: string; health: GpuHealth }[]>(
      `SELECT gpu_id, health FROM ${s}.fleet_gpus WHERE gpu_id = ANY($1::text[])`,
      [read.changes.map((c) => c.gpuId)],
    );
    const delta = fleetDelta(new Map(rows.map((r) => [r.gpu_id, r.health])), read.changes);
    const last = new Map(read.changes.map((c) => [c.gpuId, c.health]));
    await tx.query(
      `INSERT INTO ${s}.fleet_gpus (gpu_id, gpu_class, health)
       SELECT g, $2, h FROM unnest($1::text[], $3::text[]) AS t(g, h)
       ON CONFLICT (gpu_id) DO UPDATE SET health = EXCLUDED.health`,
      [[...last.keys()], read.gpuClass, [...last.values()]],
    );
    if (delta.healthy === 0 && delta.inService === 0) return;
    await tx.query(
      `INSERT INTO ${s}.fleet_class_changes (gpu_class, at, healthy_delta, in_service_delta) VALUES ($1, $2, $3, $4)
       ON CONFLICT (gpu_class, at) DO UPDATE SET
         healthy_delta = fleet_class_changes.healthy_delta + EXCLUDED.healthy_delta,
         in_service_delta = fleet_class_changes.in_service_delta + EXCLUDED.in_service_delta`,
      [read.gpuClass, event.occurredAt, delta.healthy, delta.inService],
    );
  },
};
