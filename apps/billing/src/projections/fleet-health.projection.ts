import { EventEnvelope, inventory } from '@fleetledger/contracts';
import { ident, Projection, Queryable } from '@fleetledger/eventstore';
import { GpuHealthFact, gpuHealthFacts } from '../domain/fleet-events';

export const FLEET_HEALTH_CONSUMER = 'billing-fleet-health';

const factsOf = (event: EventEnvelope) =>
  gpuHealthFacts({ type: event.type, payload: event.payload } as inventory.InventoryEvent);

/** A change row as both `apply` and `applyBatch` write it. */
interface ChangeRow {
  gpuId: string;
  eventId: string;
  at: string;
  position: number;
  rackId: string;
  hallId: string;
  gpuClass: string;
  available: boolean;
}

/** A `fleet_gpus` upsert: rack, hall and class count only when the GPU is new (the upsert keeps a row's own). */
interface GpuRow {
  gpuId: string;
  rackId: string;
  hallId: string;
  gpuClass: string;
  available: boolean;
  eventId: string;
}

async function currentAvailability(
  tx: Queryable,
  s: string,
  gpuIds: readonly string[],
): Promise<Map<string, boolean>> {
  const rows = await tx.query<{ gpu_id: string; available: boolean }[]>(
    `SELECT f.gpu_id, f.available FROM jsonb_array_elements_text($1::jsonb) AS g(id) JOIN ${s}.fleet_gpus f ON f.gpu_id = g.id`,
    [JSON.stringify(gpuIds)],
  );
  return new Map(rows.map((row) => [row.gpu_id, row.available]));
}

/**
 * The GPUs whose availability one event flips, against `state` (each GPU's availability before the event), as
 * `apply` decides it: a fact equal to the state is no flip; of one event's facts for the same GPU the last
 * flipping one counts.
 */
function flipsOf(facts: readonly GpuHealthFact[], state: ReadonlyMap<string, boolean>): GpuHealthFact[] {
  const flips = new Map<string, GpuHealthFact>();
  for (const fact of facts) if (state.get(fact.gpuId) !== fact.available) flips.set(fact.gpuId, fact);
  return [...flips.values()];
}

const changeRow = (event: EventEnvelope, fact: GpuHealthFact): ChangeRow => ({
  gpuId: fact.gpuId,
  eventId: event.eventId,
  at: event.occurredAt,
  position: event.globalPosition,
  rackId: fact.rackId,
  hallId: fact.hallId,
  gpuClass: fact.gpuClass,
  available: fact.available,
});

// Rows (and the ids read) go to PostgreSQL as one jsonb document of arrays read by position: node-postgres would
// escape every element of an array parameter into an array literal. Measured on 236,000 change rows (load ~3):
// ~0.5 s with `jsonb_array_elements` and `->>` by position, ~0.7 s with json_to_recordset (keys looked up per
// row), ~1.1 s with `json_array_elements` (type json re-parses a row's text for each `->>`).

async function insertChanges(tx: Queryable, s: string, changes: readonly ChangeRow[]) {
  if (changes.length === 0) return;
  // Consecutive rows of one event and rack, hall and class share them: [event, at, position, rack, hall, class,
  // [[gpu, available], ...]] (a commissioning's GPUs are one group: a document several times smaller).
  const groups: [string, string, number, string, string, string, [string, boolean][]][] = [];
  let last: (typeof groups)[number] | undefined;
  for (const c of changes) {
    if (
      !last ||
      last[0] !== c.eventId ||
      last[3] !== c.rackId ||
      last[4] !== c.hallId ||
      last[5] !== c.gpuClass
    ) {
      last = [c.eventId, c.at, c.position, c.rackId, c.hallId, c.gpuClass, []];
      groups.push(last);
    }
    last[6].push([c.gpuId, c.available]);
  }
  await tx.query(
    `INSERT INTO ${s}.gpu_availability_changes (gpu_id, event_id, at, position, rack_id, hall_id, gpu_class, available)
     SELECT g->>0, e->>0, (e->>1)::timestamptz, (e->>2)::bigint, e->>3, e->>4, e->>5, (g->>1)::boolean
       FROM jsonb_array_elements($1::jsonb) AS e, jsonb_array_elements(e->6) AS g
     ON CONFLICT (gpu_id, event_id) DO NOTHING`,
    [JSON.stringify(groups)],
  );
}

const gpuJson = (gpus: readonly GpuRow[]) =>
  JSON.stringify(gpus.map((g) => [g.gpuId, g.rackId, g.hallId, g.gpuClass, g.available, g.eventId]));

/** Upserts GPUs (one row per GPU): a new one is inserted whole, a known one gets its availability and event. */
async function upsertGpus(tx: Queryable, s: string, gpus: readonly GpuRow[]) {
  if (gpus.length === 0) return;
  await tx.query(
    `INSERT INTO ${s}.fleet_gpus (gpu_id, rack_id, hall_id, gpu_class, available, event_id)
     SELECT r->>0, r->>1, r->>2, r->>3, (r->>4)::boolean, r->>5 FROM jsonb_array_elements($1::jsonb) AS r
     ON CONFLICT (gpu_id) DO UPDATE SET available = EXCLUDED.available, event_id = EXCLUDED.event_id`,
    [gpuJson(gpus)],
  );
}

/**
 * The upsert's effect in two plain statements, for GPUs whose presence was read in the same transaction (a
 * speculative insert costs about twice a plain one): `added` are inserted, `known` get availability and event.
 */
async function insertAndUpdateGpus(
  tx: Queryable,
  s: string,
  added: readonly GpuRow[],
  known: readonly GpuRow[],
) {
  if (added.length > 0) {
    // Grouped like the change rows: [rack, hall, class, event, [[gpu, available], ...]].
    const groups: [string, string, string, string, [string, boolean][]][] = [];
    let last: (typeof groups)[number] | undefined;
    for (const g of added) {
      if (
        !last ||
        last[0] !== g.rackId ||
        last[1] !== g.hallId ||
        last[2] !== g.gpuClass ||
        last[3] !== g.eventId
      ) {
        last = [g.rackId, g.hallId, g.gpuClass, g.eventId, []];
        groups.push(last);
      }
      last[4].push([g.gpuId, g.available]);
    }
    await tx.query(
      `INSERT INTO ${s}.fleet_gpus (gpu_id, rack_id, hall_id, gpu_class, available, event_id)
       SELECT g->>0, e->>0, e->>1, e->>2, (g->>1)::boolean, e->>3
         FROM jsonb_array_elements($1::jsonb) AS e, jsonb_array_elements(e->4) AS g`,
      [JSON.stringify(groups)],
    );
  }
  if (known.length > 0) {
    await tx.query(
      `UPDATE ${s}.fleet_gpus f SET available = (r->>4)::boolean, event_id = r->>5
         FROM jsonb_array_elements($1::jsonb) AS r WHERE f.gpu_id = r->>0`,
      [gpuJson(known)],
    );
  }
}

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
    const facts = factsOf(event);
    if (facts.length === 0) return;
    const s = ident(schema);
    const current = await currentAvailability(
      tx,
      s,
      facts.map((fact) => fact.gpuId),
    );
    const flips = flipsOf(facts, current);
    await insertChanges(
      tx,
      s,
      flips.map((fact) => changeRow(event, fact)),
    );
    await upsertGpus(
      tx,
      s,
      flips.map((fact) => ({ ...fact, eventId: event.eventId })),
    );
  },

  /**
   * The same rows as `apply` event by event, in at most four statements per batch: the batch's GPUs' availability is
   * read once and folded through the events in order (a GPU may flip several times in one batch: a change row
   * for each flip, with its own event), then the change rows and the final state of each flipped GPU are
   * written (GPUs not in the table inserted, the others updated). A GPU new in the batch keeps the rack, hall
   * and class of its first flip, as the upsert would.
   */
  async applyBatch(tx: Queryable, events: readonly EventEnvelope[], schema: string) {
    const withFacts = events
      .map((event) => ({ event, facts: factsOf(event) }))
      .filter((item) => item.facts.length > 0);
    if (withFacts.length === 0) return;
    const s = ident(schema);
    const state = await currentAvailability(tx, s, [
      ...new Set(withFacts.flatMap((item) => item.facts.map((fact) => fact.gpuId))),
    ]);
    const stored = new Set(state.keys());
    const changes: ChangeRow[] = [];
    const gpus = new Map<string, GpuRow>();
    // (gpu, event) is the change table's key: an event id met twice (never, from a log or an inbox) writes
    // its first row only, as `apply`'s ON CONFLICT DO NOTHING would.
    const eventIds = new Set<string>();
    let written: Set<string> | undefined;
    const firstRow = (gpuId: string, eventId: string) => {
      if (!written) return true;
      const key = `${gpuId}\u0000${eventId}`;
      if (written.has(key)) return false;
      written.add(key);
      return true;
    };
    for (const { event, facts } of withFacts) {
      if (eventIds.has(event.eventId) && !written) {
        written = new Set(changes.map((c) => `${c.gpuId}\u0000${c.eventId}`));
      }
      eventIds.add(event.eventId);
      for (const fact of flipsOf(facts, state)) {
        if (firstRow(fact.gpuId, event.eventId)) changes.push(changeRow(event, fact));
        state.set(fact.gpuId, fact.available);
        const gpu = gpus.get(fact.gpuId);
        if (gpu) {
          gpu.available = fact.available;
          gpu.eventId = event.eventId;
        } else {
          gpus.set(fact.gpuId, { ...fact, eventId: event.eventId });
        }
      }
    }
    const flipped = [...gpus.values()];
    await insertChanges(tx, s, changes);
    await insertAndUpdateGpus(
      tx,
      s,
      flipped.filter((gpu) => !stored.has(gpu.gpuId)),
      flipped.filter((gpu) => stored.has(gpu.gpuId)),
    );
  },
};
