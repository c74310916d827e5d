import { EventEnvelope } from '@fleetledger/contracts';
import { Projection, Queryable } from '@fleetledger/eventstore';
import { FleetHealthEvent, foldFleetEvents, GpuHealth, healthChangesOf } from '../domain/fleet-capacity';

export const FLEET_CONSUMER = 'metering-fleet';

/**
 * The fleet's healthy and in-service GPU counts per class over time, from inventory's events as the
 * metering-fleet consumer took them in (so a replay of its inbox rebuilds it exactly). Time is the
 * event's occurredAt; no clock.
 *
 * One code path for one event and for many (`applyFleetEvents`): the current health of every GPU the
 * events name is read once, the events are folded in memory in order (`foldFleetEvents`: each event's
 * delta against what its predecessors left), then written with two statements.
 */
export const fleetProjection: Projection = {
  name: 'metering-fleet',
  source: { kind: 'inbox', consumer: FLEET_CONSUMER },
  tables: ['fleet_gpus', 'fleet_class_changes'],
  apply: (tx, event, schema) => applyFleetEvents(tx, [event], schema),
  applyBatch: (tx, events, schema) => applyFleetEvents(tx, events, schema),
};

export async function applyFleetEvents(
  tx: Queryable,
  events: readonly EventEnvelope[],
  schema: string,
): Promise<void> {
  const healthEvents: FleetHealthEvent[] = [];
  for (const event of events) {
    const read = healthChangesOf(event);
    if (!read || read.changes.length === 0) continue;
    healthEvents.push({ gpuClass: read.gpuClass, at: event.occurredAt, changes: read.changes });
  }
  if (healthEvents.length === 0) return;
  const s = `"${schema}"`;
  const gpuIds = [...new Set(healthEvents.flatMap((e) => e.changes.map((c) => c.gpuId)))];
  // One JSON parameter (a text[] parameter would be escaped element by element by node-postgres).
  const known = await tx.query<{ gpu_id: string; health: GpuHealth }[]>(
    `SELECT gpu_id, health FROM ${s}.fleet_gpus
      WHERE gpu_id = ANY (ARRAY(SELECT json_array_elements_text($1::json)))`,
    [JSON.stringify(gpuIds)],
  );
  const fold = foldFleetEvents(new Map(known.map((r) => [r.gpu_id, r.health])), healthEvents);

  await tx.query(
    `INSERT INTO ${s}.fleet_gpus (gpu_id, gpu_class, health)
     SELECT gpu_id, gpu_class, health FROM json_to_recordset($1::json) AS t(gpu_id text, gpu_class text, health text)
     ON CONFLICT (gpu_id) DO UPDATE SET health = EXCLUDED.health`,
    [
      JSON.stringify(
        [...fold.gpus].map(([gpuId, g]) => ({ gpu_id: gpuId, gpu_class: g.gpuClass, health: g.health })),
      ),
    ],
  );
  if (fold.classChanges.size === 0) return;
  // Grouped again by instant: two spellings of one instant are one key of the table.
  await tx.query(
    `INSERT INTO ${s}.fleet_class_changes (gpu_class, at, healthy_delta, in_service_delta)
     SELECT gpu_class, at, sum(healthy)::bigint, sum(in_service)::bigint
       FROM json_to_recordset($1::json) AS t(gpu_class text, at timestamptz, healthy bigint, in_service bigint)
      GROUP BY gpu_class, at
     ON CONFLICT (gpu_class, at) DO UPDATE SET
       healthy_delta = fleet_class_changes.healthy_delta + EXCLUDED.healthy_delta,
       in_service_delta = fleet_class_changes.in_service_delta + EXCLUDED.in_service_delta`,
    [
      JSON.stringify(
        [...fold.classChanges.values()].map((c) => ({
          gpu_class: c.gpuClass,
          at: c.at,
          healthy: c.healthy,
          in_service: c.inService,
        })),
      ),
    ],
  );
}
