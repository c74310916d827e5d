import { EventEnvelope, inventory } from '@fleetledger/contracts';
import { ident, Projection, Queryable } from '@fleetledger/eventstore';
import { gpuHealthFacts } from '../domain/fleet-events';

export const FLEET_HEALTH_CONSUMER = 'billing-fleet-health';

/**
 * Billing's view of GPU availability, from inventory's events as the billing-fleet-health consumer took them in
 * (so a replay of its inbox rebuilds it exactly): each GPU's current availability (`fleet_gpus`), and a row
 * each time a GPU becomes available or unavailable (`gpu_availability_changes`), dated by the event's
 * occurredAt and ordered by its position in inventory's log. Changes between healthy and degraded, or a
 * repeated state, write no change row. No clock.
 */
export const fleetHealthProjection: Projection = {
  name: 'billing-fleet-health',
  source: { kind: 'inbox', consumer: FLEET_HEALTH_CONSUMER },
  tables: ['fleet_gpus', 'gpu_availability_changes'],
  async apply(tx: Queryable, event: EventEnvelope, schema: string) {
    const facts = gpuHealthFacts({ type: event.type, payload: event.payload } as inventory.InventoryEvent);
    if (facts.length === 0) return;
    const s = ident(schema);
    const current = new Map(
      (
        await tx.query<{ gpu_id: string; available: boolean }[]>(
          `SELECT gpu_id, available FROM ${s}.fleet_gpus WHERE gpu_id = ANY($1::text[])`,
          [facts.map((fact) => fact.gpuId)],
        )
      ).map((row) => [row.gpu_id, row.available]),
    );
    const flips = new Map<string, (typeof facts)[number]>();
    for (const fact of facts) if (current.get(fact.gpuId) !== fact.available) flips.set(fact.gpuId, fact);
    if (flips.size === 0) return;
    const rows = [...flips.values()];
    const column = <K extends keyof (typeof rows)[number]>(key: K) => rows.map((row) => row[key]);
    await tx.query(
      `INSERT INTO ${s}.gpu_availability_changes (gpu_id, event_id, at, position, rack_id, hall_id, gpu_class, available)
       SELECT g, $2, $3, $4, r, h, c, a FROM unnest($1::text[], $5::text[], $6::text[], $7::text[], $8::boolean[]) AS t(g, r, h, c, a)
       ON CONFLICT (gpu_id, event_id) DO NOTHING`,
      [
        column('gpuId'),
        event.eventId,
        event.occurredAt,
        event.globalPosition,
        column('rackId'),
        column('hallId'),
        column('gpuClass'),
        column('available'),
      ],
    );
    await tx.query(
      `INSERT INTO ${s}.fleet_gpus (gpu_id, rack_id, hall_id, gpu_class, available, event_id)
       SELECT g, r, h, c, a, $2 FROM unnest($1::text[], $3::text[], $4::text[], $5::text[], $6::boolean[]) AS t(g, r, h, c, a)
       ON CONFLICT (gpu_id) DO UPDATE SET available = EXCLUDED.available, event_id = EXCLUDED.event_id`,
      [
        column('gpuId'),
        event.eventId,
        column('rackId'),
        column('hallId'),
        column('gpuClass'),
        column('available'),
      ],
    );
  },
};
