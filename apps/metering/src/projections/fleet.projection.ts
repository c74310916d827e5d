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
 * delta against what its predecessors left), then written with three statements at most (insert the
 * new GPUs, update the known ones whose health changed, add the count changes).
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
  const gpuIds = new Set<string>();
  for (const event of healthEvents) for (const change of event.changes) gpuIds.add(change.gpuId);
  // Parameters are JSON arrays of strings: cheap for Postgres to parse, and a text[] parameter would be
  // escaped element by element by node-postgres.
  const known = await tx.query<{ gpu_id: string; health: GpuHealth }[]>(
    `SELECT f.gpu_id, f.health FROM ${s}.fleet_gpus f
       JOIN json_array_elements_text($1::json) AS i(gpu_id) ON f.gpu_id = i.gpu_id`,
    [JSON.stringify([...gpuIds])],
  );
  const previous = new Map(known.map((r) => [r.gpu_id, r.health]));
  const fold = foldFleetEvents(previous, healthEvents);

  // GPUs new to the table are inserted (with the class of the first event naming them); known ones
  // keep their class and take their last health where it changed. A plain insert, not an upsert: a
  // GPU another transaction inserted meanwhile fails this one (retried) rather than miscounting.
  const added = { ids: [] as string[], classes: [] as string[], healths: [] as string[] };
  const changed = { ids: [] as string[], healths: [] as string[] };
  for (const [gpuId, gpu] of fold.gpus) {
    const before = previous.get(gpuId);
    if (before === undefined) {
      added.ids.push(gpuId);
      added.classes.push(gpu.gpuClass);
      added.healths.push(gpu.health);
    } else if (before !== gpu.health) {
      changed.ids.push(gpuId);
      changed.healths.push(gpu.health);
    }
  }
  if (added.ids.length > 0) {
    await tx.query(
      `INSERT INTO ${s}.fleet_gpus (gpu_id, gpu_class, health)
       SELECT gpu_id, gpu_class, health
         FROM ROWS FROM (json_array_elements_text($1::json), json_array_elements_text($2::json),
                         json_array_elements_text($3::json)) AS t(gpu_id, gpu_class, health)`,
      [JSON.stringify(added.ids), JSON.stringify(added.classes), JSON.stringify(added.healths)],
    );
  }
  if (changed.ids.length > 0) {
    await tx.query(
      `UPDATE ${s}.fleet_gpus f SET health = t.health
         FROM ROWS FROM (json_array_elements_text($1::json), json_array_elements_text($2::json)) AS t(gpu_id, health)
        WHERE f.gpu_id = t.gpu_id`,
      [JSON.stringify(changed.ids), JSON.stringify(changed.healths)],
    );
  }
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
