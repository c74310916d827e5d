import { DataSource } from 'typeorm';
import { EventEnvelope, EventRegistry } from '@fleetledger/contracts';
import { EventStore } from './event-store';
import { createSchemaIfMissingSql, ident, Queryable } from './sql';
import { runInTransaction } from './transaction';

/**
 * A read model: tables in the service's schema and a deterministic function of events that updates
 * them. `apply` writes only to its own tables in `schema` (the live one, or a rebuild target), uses
 * no clock and no randomness: time comes from the event (DESIGN.md section 4).
 */
export interface Projection {
  readonly name: string;
  /** Where its events come from: the service's own log, or what one of its consumers took in. */
  readonly source: { kind: 'log' } | { kind: 'inbox'; consumer: string };
  /** Tables it owns, created by the service's migrations in the live schema. */
  readonly tables: readonly string[];
  /**
   * Optional: the only event types it changes anything for. An inbox-sourced rebuild then reads just those
   * rows (a consumer's inbox holds every event of its topics; billing's leases are a few among millions).
   */
  readonly eventTypes?: ReadonlySet<string>;
  apply(tx: Queryable, event: EventEnvelope, schema: string): Promise<void>;
  /**
   * Optional: applies consecutive events at once (replay speed). Must leave the tables exactly as
   * applying them one by one would; rebuilds and the runner use it when present.
   */
  applyBatch?(tx: Queryable, events: readonly EventEnvelope[], schema: string): Promise<void>;
}

/** Applies events in order, in one call when the projection can batch. */
export async function applyAll(
  tx: Queryable,
  projection: Projection,
  events: readonly EventEnvelope[],
  schema: string,
): Promise<void> {
  if (events.length === 0) return;
  if (projection.applyBatch) {
    await projection.applyBatch(tx, events, schema);
    return;
  }
  for (const event of events) await projection.apply(tx, event, schema);
}

export interface ReplayProgress {
  projection: string;
  position: number;
  eventsApplied: number;
  totalEvents: number;
}

export interface RebuildOptions {
  /** Fresh schema to rebuild into; default `<schema>_rebuild`. */
  targetSchema?: string;
  /** Replay only events recorded up to this instant (as-of replay). */
  recordedUntil?: string;
  batchSize?: number;
  /** Keep what an interrupted rebuild already did and go on from its checkpoint. */
  resume?: boolean;
  onProgress?: (progress: ReplayProgress) => void;
}

export interface TableComparison {
  table: string;
  liveRows: number;
  rebuiltRows: number;
  liveChecksum: string;
  rebuiltChecksum: string;
  equal: boolean;
}

/** Reads a projection's source in order, from its own log or from its consumer's inbox. */
export async function readProjectionSource(
  db: Queryable,
  store: EventStore,
  projection: Projection,
  afterPosition: number,
  limit: number,
  recordedUntil?: string,
): Promise<{ position: number; event: EventEnvelope }[]> {
  if (projection.source.kind === 'log') {
    const events = await store.readAll(db, afterPosition, limit, { recordedUntil });
    return events.map((event) => ({ position: event.globalPosition, event }));
  }
  const params: unknown[] = [projection.source.consumer, afterPosition, limit];
  let filter = '';
  if (recordedUntil) {
    params.push(recordedUntil);
    filter += ` AND (envelope->>'recordedAt')::timestamptz <= $${params.length}`;
  }
  if (projection.eventTypes) {
    params.push([...projection.eventTypes]);
    filter += ` AND envelope->>'type' = ANY($${params.length}::text[])`;
  }
  const rows = await db.query<{ seq: string; envelope: EventEnvelope }[]>(
    `SELECT seq, envelope FROM ${ident(store.schema)}.inbox WHERE consumer = $1 AND seq > $2 ${filter} ORDER BY seq LIMIT $3`,
    params,
  );
  return rows.map((row) => ({
    position: Number(row.seq),
    event: upcastStored(store.registry, row.envelope),
  }));
}

async function countSource(
  db: Queryable,
  store: EventStore,
  projection: Projection,
  after: number,
  until?: string,
) {
  const s = ident(store.schema);
  const [row] =
    projection.source.kind === 'log'
      ? await db.query<{ n: string }[]>(
          `SELECT count(*)::bigint AS n FROM ${s}.events WHERE global_position > $1 ${until ? 'AND recorded_at <= $2' : ''}`,
          until ? [after, until] : [after],
        )
      : await db.query<{ n: string }[]>(
          `SELECT count(*)::bigint AS n FROM ${s}.inbox WHERE consumer = $1 AND seq > $2
             AND ($3::timestamptz IS NULL OR (envelope->>'recordedAt')::timestamptz <= $3)
             AND ($4::text[] IS NULL OR envelope->>'type' = ANY($4::text[]))`,
          [
            projection.source.consumer,
            after,
            until ?? null,
            projection.eventTypes ? [...projection.eventTypes] : null,
          ],
        );
  return Number(row.n);
}

function upcastStored(registry: EventRegistry, envelope: EventEnvelope): EventEnvelope {
  const parsed = registry.parsePayload(envelope.type, envelope.schemaVersion, envelope.payload);
  if (!parsed.ok) throw new Error(`stored event ${envelope.eventId} cannot be read: ${parsed.detail}`);
  return { ...envelope, schemaVersion: parsed.value.schemaVersion, payload: parsed.value.payload };
}

/**
 * Runs an asynchronous projection over the service's own log, keeping its checkpoint in the same
 * transaction as its writes (so a crash re-applies nothing twice).
 */
export class ProjectionRunner {
  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EventStore,
    private readonly projection: Projection,
  ) {}

  /** Applies up to `batchSize` events; returns how many it applied. */
  async runOnce(batchSize = 1000): Promise<number> {
    const s = ident(this.store.schema);
    // Outside the transaction: moving the horizon records its own transaction id, which must end first.
    if (this.projection.source.kind === 'log') await this.store.advanceHorizon(this.dataSource);
    return runInTransaction(this.dataSource, async (tx) => {
      await tx.query(
        `INSERT INTO ${s}.projection_checkpoints (projection, position) VALUES ($1, 0) ON CONFLICT DO NOTHING`,
        [this.projection.name],
      );
      const [checkpoint] = await tx.query(
        `SELECT position FROM ${s}.projection_checkpoints WHERE projection = $1 FOR UPDATE`,
        [this.projection.name],
      );
      const items = await readProjectionSource(
        tx,
        this.store,
        this.projection,
        Number(checkpoint.position),
        batchSize,
      );
      await applyAll(
        tx,
        this.projection,
        items.map((i) => i.event),
        this.store.schema,
      );
      if (items.length > 0) {
        await tx.query(
          `UPDATE ${s}.projection_checkpoints SET position = $2, updated_at = now() WHERE projection = $1`,
          [this.projection.name, items[items.length - 1].position],
        );
      }
      return items.length;
    });
  }

  /** Applies everything committed by now (waiting, bounded, until the horizon reaches it). */
  async catchUp(batchSize = 1000): Promise<number> {
    if (this.projection.source.kind === 'log')
      await this.store.awaitHorizon(this.dataSource, await this.store.headPosition(this.dataSource));
    let total = 0;
    for (let n = await this.runOnce(batchSize); n > 0; n = await this.runOnce(batchSize)) total += n;
    return total;
  }
}

/**
 * Rebuilds a projection from position 0 into a fresh schema (tables copied from the live ones'
 * definitions), with progress reports; `resume` continues an interrupted rebuild from its checkpoint.
 */
export function rebuildProjection(
  dataSource: DataSource,
  store: EventStore,
  projection: Projection,
  options: RebuildOptions = {},
): Promise<{ targetSchema: string; eventsApplied: number; position: number }> {
  return rebuildProjections(dataSource, store, [projection], options);
}

/**
 * Rebuilds several projections of ONE source (the service's log, or one consumer's inbox) in one pass: each
 * batch is read once and applied to every projection in the same transaction, with each projection's own
 * checkpoint, so a resumed rebuild re-applies nothing. The source is read once instead of once per projection.
 */
export async function rebuildProjections(
  dataSource: DataSource,
  store: EventStore,
  projections: readonly Projection[],
  options: RebuildOptions = {},
): Promise<{ targetSchema: string; eventsApplied: number; position: number }> {
  const sourceKey = (p: Projection) => JSON.stringify(p.source);
  if (projections.length === 0) throw new Error('nothing to rebuild');
  if (projections.some((p) => sourceKey(p) !== sourceKey(projections[0])))
    throw new Error(`projections rebuilt together must share a source: ${projections.map((p) => p.name)}`);
  const live = ident(store.schema);
  const targetSchema = options.targetSchema ?? `${store.schema}_rebuild`;
  const target = ident(targetSchema);
  const batchSize = options.batchSize ?? 2000;
  const names = projections.map((p) => p.name);
  // What the pass reads: every event of the source, unless every projection names the types it needs.
  const reader: Projection = projections.every((p) => p.eventTypes)
    ? { ...projections[0], eventTypes: new Set(projections.flatMap((p) => [...p.eventTypes!])) }
    : { ...projections[0], eventTypes: undefined };

  await runInTransaction(dataSource, async (tx) => {
    // Provisioned for the audit role (it may not create schemas); created here on an unprovisioned database.
    await tx.query(createSchemaIfMissingSql(targetSchema));
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${target}.rebuild_checkpoints (projection text PRIMARY KEY, position bigint NOT NULL)`,
    );
    for (const projection of projections) {
      const [existing] = await tx.query(
        `SELECT position FROM ${target}.rebuild_checkpoints WHERE projection = $1`,
        [projection.name],
      );
      if (existing && options.resume) continue;
      for (const table of projection.tables) {
        await tx.query(`DROP TABLE IF EXISTS ${target}.${ident(table)}`);
        await tx.query(`CREATE TABLE ${target}.${ident(table)} (LIKE ${live}.${ident(table)} INCLUDING ALL)`);
      }
      await tx.query(
        `INSERT INTO ${target}.rebuild_checkpoints (projection, position) VALUES ($1, 0)
         ON CONFLICT (projection) DO UPDATE SET position = 0`,
        [projection.name],
      );
    }
  });

  // A rebuild replays everything committed when it starts: wait (bounded) until readers may see all of it.
  if (reader.source.kind === 'log')
    await store.awaitHorizon(dataSource, await store.headPosition(dataSource));
  const checkpoints = new Map<string, number>(
    (
      await dataSource.query<{ projection: string; position: string }[]>(
        `SELECT projection, position FROM ${target}.rebuild_checkpoints WHERE projection = ANY($1::text[])`,
        [names],
      )
    ).map((row) => [row.projection, Number(row.position)]),
  );
  let position = Math.min(...names.map((name) => checkpoints.get(name) ?? 0));
  const totalEvents = await countSource(dataSource, store, reader, 0, options.recordedUntil);
  let eventsApplied =
    totalEvents - (await countSource(dataSource, store, reader, position, options.recordedUntil));

  for (;;) {
    const read = await runInTransaction(dataSource, async (tx) => {
      const items = await readProjectionSource(tx, store, reader, position, batchSize, options.recordedUntil);
      if (items.length === 0) return 0;
      for (const projection of projections) {
        const after = checkpoints.get(projection.name) ?? 0;
        const events = items.filter((item) => item.position > after).map((item) => item.event);
        await applyAll(tx, projection, events, targetSchema);
      }
      position = items[items.length - 1].position;
      await tx.query(
        `UPDATE ${target}.rebuild_checkpoints SET position = $2 WHERE projection = ANY($1::text[])`,
        [names, position],
      );
      return items.length;
    });
    for (const name of names) checkpoints.set(name, Math.max(checkpoints.get(name) ?? 0, position));
    eventsApplied += read;
    options.onProgress?.({ projection: names.join('+'), position, eventsApplied, totalEvents });
    if (read < batchSize) break;
  }
  return { targetSchema, eventsApplied, position };
}

/**
 * Compares each table of a projection in two schemas by row count and an order-independent checksum
 * of every row's full text.
 */
export async function compareProjection(
  db: Queryable,
  projection: Projection,
  liveSchema: string,
  rebuiltSchema: string,
): Promise<TableComparison[]> {
  const results: TableComparison[] = [];
  for (const table of projection.tables) {
    const [live, rebuilt] = await Promise.all(
      [liveSchema, rebuiltSchema].map((schema) => tableChecksum(db, schema, table)),
    );
    results.push({
      table,
      liveRows: live.rows,
      rebuiltRows: rebuilt.rows,
      liveChecksum: live.checksum,
      rebuiltChecksum: rebuilt.checksum,
      equal: live.rows === rebuilt.rows && live.checksum === rebuilt.checksum,
    });
  }
  return results;
}

export async function tableChecksum(
  db: Queryable,
  schema: string,
  table: string,
): Promise<{ rows: number; checksum: string }> {
  const [row] = await db.query<{ rows: string; checksum: string }[]>(
    `SELECT count(*)::bigint AS rows,
            md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS checksum
       FROM (SELECT md5(t::text) AS h FROM ${ident(schema)}.${ident(table)} t) hashed`,
  );
  return { rows: Number(row.rows), checksum: row.checksum };
}
