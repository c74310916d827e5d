import { EventStore, ident, Queryable } from '@fleetledger/eventstore';
import type { ChainVerification } from '@fleetledger/eventstore';
import type { ServiceOptions } from '@fleetledger/platform';

export interface DeliveryCheck {
  consumer: string;
  consumerSchema: string;
  topic: string;
  producerSchema: string;
  published: number;
  consumed: number;
  /** Published events the consumer has not (yet) taken in: lag, or a lost event. */
  missing: string[];
  /** Inbox rows for events the producer never published: should be impossible. */
  unknown: string[];
}

export interface VerifyReport {
  ok: boolean;
  chains: {
    service: string;
    schema: string;
    verification: ChainVerification;
    unpublishedOutbox: number;
    /** Who wrote the log: events per principal (subject and roles), those without one as `(none)`. */
    principals: { subject: string; roles: string[]; events: number }[];
  }[];
  deliveries: DeliveryCheck[];
}

async function schemaExists(db: Queryable, schema: string): Promise<boolean> {
  const rows = await db.query<unknown[]>(
    `SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'events'`,
    [schema],
  );
  return rows.length > 0;
}

/**
 * Checks every service's hash chain, then the bookkeeping between them: each event a service
 * published to a topic must be in the inbox of each consumer of that topic once, and no inbox may
 * hold an event that was never published.
 */
export async function verifyAll(
  db: Queryable,
  services: ServiceOptions[],
  sampleLimit = 20,
): Promise<VerifyReport> {
  const present: ServiceOptions[] = [];
  for (const service of services) if (await schemaExists(db, service.schema)) present.push(service);

  const chains: VerifyReport['chains'] = [];
  for (const service of present) {
    const store = new EventStore(service.schema, service.registry);
    const verification = await store.verifyChain(db);
    const [{ n }] = await db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM ${ident(service.schema)}.outbox WHERE published_at IS NULL`,
    );
    const principals = await db.query<{ subject: string; roles: string[]; events: number }[]>(
      `SELECT coalesce(metadata->'principal'->>'subject', '(none)') AS subject,
              coalesce(metadata->'principal'->'roles', '[]'::jsonb) AS roles, count(*)::int AS events
         FROM ${ident(service.schema)}.events GROUP BY 1, 2 ORDER BY 3 DESC, 1`,
    );
    chains.push({
      service: service.service,
      schema: service.schema,
      verification,
      unpublishedOutbox: n,
      principals,
    });
  }

  const producers = new Map<string, string>();
  for (const service of present) {
    const topics = await db.query<{ topic: string }[]>(
      `SELECT DISTINCT topic FROM ${ident(service.schema)}.outbox`,
    );
    for (const { topic } of topics) producers.set(topic, service.schema);
  }

  const deliveries: DeliveryCheck[] = [];
  for (const service of present) {
    const s = ident(service.schema);
    const subscriptions = await db.query<{ consumer: string; topic: string }[]>(
      `SELECT DISTINCT consumer, topic FROM ${s}.inbox ORDER BY consumer, topic`,
    );
    for (const { consumer, topic } of subscriptions) {
      const producerSchema = producers.get(topic);
      if (!producerSchema) continue;
      const p = ident(producerSchema);
      const [counts] = await db.query<{ published: number; consumed: number }[]>(
        `SELECT (SELECT count(*)::int FROM ${p}.outbox o WHERE o.topic = $2 AND o.published_at IS NOT NULL) AS published,
                (SELECT count(*)::int FROM ${s}.inbox i WHERE i.consumer = $1 AND i.topic = $2) AS consumed`,
        [consumer, topic],
      );
      // An outbox row names its event by position (compact rows since issue #19 carry no message).
      const missing = await db.query<{ id: string }[]>(
        `SELECT e.event_id::text AS id FROM ${p}.outbox o JOIN ${p}.events e ON e.global_position = o.global_position
          WHERE o.topic = $2 AND o.published_at IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM ${s}.inbox i WHERE i.consumer = $1 AND i.event_id = e.event_id)
          ORDER BY o.id LIMIT $3`,
        [consumer, topic, sampleLimit],
      );
      const unknown = await db.query<{ id: string }[]>(
        `SELECT i.event_id::text AS id FROM ${s}.inbox i
          WHERE i.consumer = $1 AND i.topic = $2
            AND NOT EXISTS (SELECT 1 FROM ${p}.events e JOIN ${p}.outbox o ON o.global_position = e.global_position
                             WHERE e.event_id = i.event_id AND o.topic = $2)
          ORDER BY i.seq LIMIT $3`,
        [consumer, topic, sampleLimit],
      );
      deliveries.push({
        consumer,
        consumerSchema: service.schema,
        topic,
        producerSchema,
        published: counts.published,
        consumed: counts.consumed,
        missing: missing.map((r) => r.id),
        unknown: unknown.map((r) => r.id),
      });
    }
  }

  const ok =
    chains.every((c) => c.verification.ok) &&
    deliveries.every((d) => d.missing.length === 0 && d.unknown.length === 0);
  return { ok, chains, deliveries };
}
