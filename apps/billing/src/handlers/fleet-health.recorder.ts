import { Injectable } from '@nestjs/common';
import { EventEnvelope, inventory } from '@fleetledger/contracts';
import { Queryable } from '@fleetledger/eventstore';
import { gpuHealthFacts } from '../domain/fleet-events';

/**
 * Keeps billing's view of GPU availability from inventory's events, inside the consumer's inbox transaction:
 * each GPU's current availability, and a dated row each time it flips (the time is the event's occurredAt).
 * Changes between healthy and degraded, or a repeated state, write no change row.
 */
@Injectable()
export class FleetHealthRecorder {
  async handle(event: EventEnvelope, tx: Queryable): Promise<void> {
    const facts = gpuHealthFacts({ type: event.type, payload: event.payload } as inventory.InventoryEvent);
    if (facts.length === 0) return;
    const current = new Map(
      (
        await tx.query<{ gpu_id: string; available: boolean }[]>(
          `SELECT gpu_id, available FROM billing.fleet_gpus WHERE gpu_id = ANY($1::text[])`,
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
      `INSERT INTO billing.gpu_availability_changes (gpu_id, event_id, at, rack_id, hall_id, gpu_class, available)
       SELECT g, $2, $3, r, h, c, a FROM unnest($1::text[], $4::text[], $5::text[], $6::text[], $7::boolean[]) AS t(g, r, h, c, a)
       ON CONFLICT (gpu_id, event_id) DO NOTHING`,
      [
        column('gpuId'),
        event.eventId,
        event.occurredAt,
        column('rackId'),
        column('hallId'),
        column('gpuClass'),
        column('available'),
      ],
    );
    await tx.query(
      `INSERT INTO billing.fleet_gpus (gpu_id, rack_id, hall_id, gpu_class, available, event_id)
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
  }
}
