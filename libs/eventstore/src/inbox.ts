import { EventEnvelope } from '@fleetledger/contracts';
import { ident, Queryable } from './sql';

/** One consumed event as the inbox holds it: its position in the inbox and the envelope as received. */
export interface InboxRow {
  seq: number;
  envelope: EventEnvelope;
}

/**
 * Reads a service's inbox: what its consumers took in, in the order they took it (seq). The one place
 * outside the consumer that knows the inbox's columns. Either a page after `afterSeq` (rebuilding state
 * from what was consumed) or the events with these ids (the evidence behind a decision).
 */
export async function readInbox(
  db: Queryable,
  schema: string,
  query: { consumers: readonly string[]; afterSeq?: number; limit?: number; eventIds?: readonly string[] },
): Promise<InboxRow[]> {
  const rows = await db.query<{ seq: string; envelope: EventEnvelope }[]>(
    `SELECT seq, envelope FROM ${ident(schema)}.inbox
      WHERE consumer = ANY($1::text[]) AND seq > $2 AND ($3::text[] IS NULL OR event_id::text = ANY($3::text[]))
      ORDER BY seq LIMIT $4`,
    [query.consumers, query.afterSeq ?? 0, query.eventIds ?? null, query.limit ?? null],
  );
  return rows.map((row) => ({ seq: Number(row.seq), envelope: row.envelope }));
}
