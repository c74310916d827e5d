import { v7 as uuidv7 } from 'uuid';
import { EventEnvelope, EventHeaders, EventRegistry, NewEvent, Principal } from '@fleetledger/contracts';
import { DataSource } from 'typeorm';
import { InvalidEventError, MissingPrincipalError, WrongExpectedVersionError } from './errors';
import { ChainBreak, ChainVerification, chainHash, GENESIS_HASH, HashedEventFields } from './hash-chain';
import { ident, Queryable } from './sql';

/** `number`: the stream must be exactly at that version (0 = must not exist yet); 'any': no check. */
export type ExpectedVersion = number | 'any';

export interface AppendContext {
  correlationId: string;
  causationId?: string;
  tenantId?: string;
  /**
   * Who caused these events. Falls back to the store's `principal` option (a service wires the
   * authenticated caller of the current request there); an append with neither is refused.
   */
  principal?: Principal;
  /** When set, every appended event is also written to the outbox for this Kafka topic. */
  topic?: string;
  metadata?: Record<string, unknown>;
}

export interface StreamAppend {
  streamId: string;
  expectedVersion: ExpectedVersion;
  events: readonly NewEvent[];
  /** Per-append causal metadata, for batches that commit several callers' commands at once. */
  context?: Pick<AppendContext, 'correlationId' | 'causationId' | 'tenantId' | 'principal'>;
}

export interface EventStoreOptions {
  now?: () => Date;
  /**
   * The principal of an append whose context names none: in a service, the authenticated caller of
   * the request (or the service itself in a consumer or a schedule) from the request context.
   */
  principal?: () => Principal | undefined;
}

/** An `events` row as node-postgres returns it. */
export interface StoredEventRow {
  global_position: string;
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  schema_version: number;
  payload: unknown;
  metadata: {
    correlationId: string;
    causationId?: string;
    tenantId?: string;
    principal?: Principal;
  } & Record<string, unknown>;
  occurred_at: Date;
  recorded_at: Date;
  prev_hash?: string | null;
  hash?: string | null;
}

export const EVENT_COLUMNS =
  'global_position, event_id, stream_id, stream_version, type, schema_version, payload, metadata, occurred_at, recorded_at';

/**
 * The append-only, hash-chained event log of one service (DESIGN.md section 4, as changed by
 * docs/architecture.md "Event store: concurrent appends").
 *
 * Appends to different streams run side by side and share commits: positions come from a sequence, a
 * reader by position stops at the horizon (below it every writer that took a position has ended, so no
 * late commit is skipped), and the sealer (`LogSealer`) links events into the hash chain in position order
 * behind the writers. Writers run with `idle_in_transaction_session_timeout` (see `runInTransaction`), so a
 * stuck writer holds readers back for a bounded time only.
 */
export class EventStore {
  private readonly s: string;
  private readonly now: () => Date;
  private readonly ambientPrincipal: () => Principal | undefined;

  constructor(
    readonly schema: string,
    readonly registry: EventRegistry,
    options: EventStoreOptions = {},
  ) {
    this.s = ident(schema);
    this.now = options.now ?? (() => new Date());
    this.ambientPrincipal = options.principal ?? (() => undefined);
  }

  /** Appends to one stream inside the caller's transaction. */
  async append(
    tx: Queryable,
    streamId: string,
    expectedVersion: ExpectedVersion,
    events: readonly NewEvent[],
    context: AppendContext,
  ): Promise<EventEnvelope[]> {
    return this.appendToStreams(tx, [{ streamId, expectedVersion, events }], context);
  }

  /**
   * Appends to several streams atomically inside the caller's transaction, in ONE call to the schema's
   * `append_events` function (stream locks, version checks, events and compact outbox rows). If any stream is
   * not at its expected version, throws WrongExpectedVersionError and the caller's transaction must roll back.
   *
   * Per event the JavaScript work is: validate the payload once, give it an id, and serialise the whole batch
   * once. The hash chain is not computed here: the sealer (`LogSealer`) links events in position order behind
   * the writers, so appends to different streams never wait for each other.
   */
  async appendToStreams(
    tx: Queryable,
    appends: readonly StreamAppend[],
    context: AppendContext,
  ): Promise<EventEnvelope[]> {
    const total = appends.reduce((n, a) => n + a.events.length, 0);
    if (total === 0) return [];

    const recordedAt = this.now().toISOString();
    const ambient = context.principal ?? this.ambientPrincipal();
    const streams: { id: string; expected: number | null; count: number; metadata: unknown }[] = [];
    const rows: {
      s: number;
      k: number;
      id: string;
      type: string;
      v: number;
      payload: unknown;
      at: string;
    }[] = [];
    const causals: {
      principal: Principal;
      correlationId: string;
      causationId?: string;
      tenantId?: string;
    }[] = [];
    for (const append of appends) {
      if (append.events.length === 0) continue;
      const causal = { ...context, ...append.context };
      const principal = append.context?.principal ?? ambient;
      if (!principal) throw new MissingPrincipalError(append.streamId);
      const index = streams.length + 1; // 1-based: a PostgreSQL array index
      streams.push({
        id: append.streamId,
        expected: append.expectedVersion === 'any' ? null : append.expectedVersion,
        count: append.events.length,
        metadata: {
          ...(context.metadata ?? {}),
          correlationId: causal.correlationId,
          causationId: causal.causationId,
          tenantId: causal.tenantId,
          principal,
        },
      });
      causals.push({
        principal,
        correlationId: causal.correlationId,
        ...(causal.causationId ? { causationId: causal.causationId } : {}),
        ...(causal.tenantId ? { tenantId: causal.tenantId } : {}),
      });
      append.events.forEach((event, k) => {
        const result = this.registry.validateNew(event.type, event.payload);
        if (!result.ok) throw new InvalidEventError(event.type, result.detail);
        rows.push({
          s: index,
          k: k + 1,
          id: event.eventId ?? uuidv7(),
          type: event.type,
          v: this.registry.definition(event.type)!.schemaVersion,
          payload: result.value,
          at: new Date(event.occurredAt).toISOString(),
        });
      });
    }

    let result: { versions: number[]; positions: string[] };
    try {
      // Rows go to Postgres as ONE JSON document, expanded inside the function: node-postgres would otherwise
      // escape every payload into an array literal.
      [result] = await tx.query<{ versions: number[]; positions: string[] }[]>(
        `SELECT versions, positions FROM ${this.s}.append_events($1::jsonb, $2::jsonb, $3::timestamptz, $4::text)`,
        [JSON.stringify(streams), JSON.stringify(rows), recordedAt, context.topic ?? null],
      );
    } catch (error) {
      throw conflictOf(error) ?? error;
    }

    return rows.map((row, i) => {
      const causal = causals[row.s - 1];
      return {
        eventId: row.id,
        type: row.type,
        schemaVersion: row.v,
        streamId: streams[row.s - 1].id,
        streamVersion: result.versions[row.s - 1] + row.k,
        globalPosition: Number(result.positions[i]),
        occurredAt: row.at,
        recordedAt,
        correlationId: causal.correlationId,
        ...(causal.causationId ? { causationId: causal.causationId } : {}),
        ...(causal.tenantId ? { tenantId: causal.tenantId } : {}),
        principal: causal.principal,
        payload: row.payload,
      } as EventEnvelope;
    });
  }

  /** The current version of a stream (0 when it does not exist). */
  async streamVersion(db: Queryable, streamId: string): Promise<number> {
    const [row] = await db.query<{ version: number | null }[]>(
      `SELECT max(stream_version)::int AS version FROM ${this.s}.events WHERE stream_id = $1`,
      [streamId],
    );
    return row.version ?? 0;
  }

  async readStream(db: Queryable, streamId: string): Promise<EventEnvelope[]> {
    const rows = await db.query<StoredEventRow[]>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.s}.events WHERE stream_id = $1 ORDER BY stream_version`,
      [streamId],
    );
    return rows.map((row) => this.toEnvelope(row));
  }

  /**
   * Events after `afterPosition` in log order, up to the horizon: the position below which every transaction
   * that took a position has ended, so an event that commits late is never passed over (docs/architecture.md,
   * "Event store: concurrent appends"). Given the DataSource (not a transaction), the horizon is first moved to
   * what has committed by now. `recordedUntil` limits the read to what had been recorded at that instant
   * (replay "as of").
   */
  async readAll(
    db: Queryable,
    afterPosition: number,
    limit: number,
    options: { recordedUntil?: string } = {},
  ): Promise<EventEnvelope[]> {
    if (db instanceof DataSource) await this.advanceHorizon(db);
    const params: unknown[] = [afterPosition, limit];
    let until = '';
    if (options.recordedUntil) {
      params.push(options.recordedUntil);
      until = 'AND recorded_at <= $3';
    }
    // The horizon cuts the page after the index walk (a bound on the walk itself makes the planner, which
    // cannot know the horizon, pick a bitmap scan of everything up to it and a sort).
    const rows = await db.query<StoredEventRow[]>(
      `SELECT * FROM (SELECT ${EVENT_COLUMNS} FROM ${this.s}.events WHERE global_position > $1 ${until}
                        ORDER BY global_position LIMIT $2) page
        WHERE page.global_position <= (${this.horizonSql()}) ORDER BY page.global_position`,
      params,
    );
    return rows.map((row) => this.toEnvelope(row));
  }

  /** The horizon as a reader sees it (SQL): the stored one, or its candidate once no older writer runs. */
  horizonSql(): string {
    return `SELECT CASE WHEN h.horizon_candidate_xid < pg_snapshot_xmin(pg_current_snapshot())
                        THEN greatest(h.horizon, h.horizon_candidate) ELSE h.horizon END
              FROM ${this.s}.log_head h WHERE h.id = 1`;
  }

  /**
   * Moves the horizon towards the newest position (call it outside a transaction: the move records this
   * call's own transaction id, which must end before the move can complete). Returns the stored horizon.
   */
  async advanceHorizon(db: Queryable): Promise<number> {
    const [row] = await db.query<{ horizon: string }[]>(`SELECT ${this.s}.advance_log_horizon() AS horizon`);
    return Number(row.horizon);
  }

  /**
   * Moves the horizon until it reaches `position` (or `timeoutMs` passes; then throws): for a caller that must
   * read what it has just committed, e.g. a test. Another transaction older than the append holds it back.
   */
  async awaitHorizon(db: Queryable, position: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.advanceHorizon(db)) < position) {
      if (Date.now() > deadline) throw new Error(`the horizon of ${this.schema} did not reach ${position}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** The position of the newest committed event (0 for an empty log); readers reach it once the horizon does. */
  async headPosition(db: Queryable): Promise<number> {
    const [row] = await db.query<{ global_position: string | null }[]>(
      `SELECT max(global_position) AS global_position FROM ${this.s}.events`,
    );
    return Number(row.global_position ?? 0);
  }

  /**
   * Links the next events below the horizon into the hash chain, in position order, inside the caller's
   * transaction: one `event_chain` row per event and the sealed head in `log_head`. Returns how many it sealed.
   * Two sealers cannot interleave: the head row lock makes the second wait and start from the new head.
   */
  async sealBatch(tx: Queryable, limit = 5000): Promise<number> {
    const [head] = await tx.query<{ global_position: string; hash: string; horizon: string }[]>(
      `SELECT global_position, hash, (${this.horizonSql()}) AS horizon FROM ${this.s}.log_head WHERE id = 1 FOR UPDATE`,
    );
    const rows = await tx.query<StoredEventRow[]>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.s}.events WHERE global_position > $1 AND global_position <= $2
        ORDER BY global_position LIMIT $3`,
      [head.global_position, head.horizon, limit],
    );
    if (rows.length === 0) return 0;
    let prevHash = head.hash;
    const links: { p: string; prev: string; hash: string }[] = [];
    for (const row of rows) {
      const hash = chainHash(prevHash, hashedFields(row));
      links.push({ p: row.global_position, prev: prevHash, hash });
      prevHash = hash;
    }
    await tx.query(
      `INSERT INTO ${this.s}.event_chain (global_position, prev_hash, hash)
       SELECT (r->>'p')::bigint, r->>'prev', r->>'hash' FROM jsonb_array_elements($1::jsonb) AS r`,
      [JSON.stringify(links)],
    );
    await tx.query(`UPDATE ${this.s}.log_head SET global_position = $1, hash = $2 WHERE id = 1`, [
      links[links.length - 1].p,
      prevHash,
    ]);
    return rows.length;
  }

  /**
   * Walks the sealed log and checks every link of the hash chain, reporting the first broken one. Events past
   * the sealed head are not broken: they are reported as `pending` (not yet sealed). Positions may have gaps
   * (a rolled-back append leaves its positions unused); a removed event breaks the next link or the head.
   */
  async verifyChain(db: Queryable, batchSize = 5000): Promise<ChainVerification> {
    const [head] = await db.query<{ global_position: string; hash: string }[]>(
      `SELECT global_position, hash FROM ${this.s}.log_head WHERE id = 1`,
    );
    const sealedPosition = Number(head.global_position);
    const [{ n }] = await db.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM ${this.s}.events WHERE global_position > $1`,
      [sealedPosition],
    );
    const pending = Number(n);
    let prevHash = GENESIS_HASH;
    let lastPosition = 0;
    let checked = 0;
    const result = (firstBreak?: ChainBreak): ChainVerification => ({
      ok: !firstBreak,
      eventsChecked: checked,
      lastPosition,
      lastHash: prevHash,
      sealedPosition,
      pending,
      ...(firstBreak ? { firstBreak } : {}),
    });
    for (;;) {
      const rows = await db.query<
        (StoredEventRow & { chain_prev: string | null; chain_hash: string | null })[]
      >(
        `SELECT ${EVENT_COLUMNS.split(', ')
          .map((c) => `e.${c}`)
          .join(', ')}, e.prev_hash, e.hash, c.prev_hash AS chain_prev, c.hash AS chain_hash
           FROM ${this.s}.events e LEFT JOIN ${this.s}.event_chain c ON c.global_position = e.global_position
          WHERE e.global_position > $1 AND e.global_position <= $2
          ORDER BY e.global_position LIMIT $3`,
        [lastPosition, sealedPosition, batchSize],
      );
      for (const row of rows) {
        const position = Number(row.global_position);
        // Events recorded before concurrent appends carry their link in their own row.
        const storedPrev = row.prev_hash ?? row.chain_prev;
        const storedHash = row.hash ?? row.chain_hash;
        if (!storedPrev || !storedHash) {
          return result({ kind: 'missing-link', globalPosition: position, eventId: row.event_id });
        }
        if (storedPrev !== prevHash) {
          return result({
            kind: 'prev-hash-mismatch',
            globalPosition: position,
            eventId: row.event_id,
            expected: prevHash,
            stored: storedPrev,
          });
        }
        const expected = chainHash(prevHash, hashedFields(row));
        if (expected !== storedHash) {
          return result({
            kind: 'hash-mismatch',
            globalPosition: position,
            eventId: row.event_id,
            expected,
            stored: storedHash,
          });
        }
        prevHash = storedHash;
        lastPosition = position;
        checked += 1;
      }
      if (rows.length < batchSize) break;
    }
    if (sealedPosition !== lastPosition || head.hash !== prevHash) {
      return result({ kind: 'position-gap', globalPosition: sealedPosition, expectedPosition: lastPosition });
    }
    return result();
  }

  private toEnvelope(row: StoredEventRow): EventEnvelope {
    const parsed = this.registry.parsePayload(row.type, row.schema_version, row.payload);
    if (!parsed.ok) {
      throw new Error(
        `stored event ${row.event_id} at ${row.global_position} cannot be read: ${parsed.detail}`,
      );
    }
    return {
      eventId: row.event_id,
      type: row.type,
      schemaVersion: parsed.value.schemaVersion,
      streamId: row.stream_id,
      streamVersion: row.stream_version,
      globalPosition: Number(row.global_position),
      occurredAt: row.occurred_at.toISOString(),
      recordedAt: row.recorded_at.toISOString(),
      correlationId: row.metadata.correlationId,
      ...(row.metadata.causationId ? { causationId: row.metadata.causationId } : {}),
      ...(row.metadata.tenantId ? { tenantId: row.metadata.tenantId } : {}),
      ...(row.metadata.principal ? { principal: row.metadata.principal } : {}),
      payload: parsed.value.payload,
    };
  }
}

export function headersFor(envelope: EventEnvelope): Record<string, string> {
  return {
    [EventHeaders.eventId]: envelope.eventId,
    [EventHeaders.eventType]: envelope.type,
    [EventHeaders.schemaVersion]: String(envelope.schemaVersion),
    [EventHeaders.correlationId]: envelope.correlationId,
    ...(envelope.causationId ? { [EventHeaders.causationId]: envelope.causationId } : {}),
  };
}

/** The fields of a stored row the hash chain covers (as jsonb gave them back). */
function hashedFields(row: StoredEventRow): HashedEventFields {
  return {
    globalPosition: Number(row.global_position),
    eventId: row.event_id,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    type: row.type,
    schemaVersion: row.schema_version,
    payload: row.payload,
    metadata: row.metadata,
    occurredAt: row.occurred_at.toISOString(),
    recordedAt: row.recorded_at.toISOString(),
  };
}

/** The envelope of a stored row exactly as it was appended (no upcasting): what the outbox relay publishes. */
export function storedEnvelope(row: StoredEventRow): EventEnvelope {
  return {
    eventId: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    globalPosition: Number(row.global_position),
    occurredAt: row.occurred_at.toISOString(),
    recordedAt: row.recorded_at.toISOString(),
    correlationId: row.metadata.correlationId,
    ...(row.metadata.causationId ? { causationId: row.metadata.causationId } : {}),
    ...(row.metadata.tenantId ? { tenantId: row.metadata.tenantId } : {}),
    ...(row.metadata.principal ? { principal: row.metadata.principal } : {}),
    payload: row.payload,
  } as EventEnvelope;
}

/** A version conflict raised by `append_events` (or by the unique stream version), as the store's error. */
function conflictOf(error: unknown): WrongExpectedVersionError | undefined {
  const e = error as { code?: string; detail?: string; driverError?: { code?: string; detail?: string } };
  const code = e.code ?? e.driverError?.code;
  const detail = e.detail ?? e.driverError?.detail ?? '';
  if (code === 'FL409') {
    const d = JSON.parse(detail) as { streamId: string; expected: number; actual: number };
    return new WrongExpectedVersionError(d.streamId, d.expected, d.actual);
  }
  const duplicate = /^Key \(stream_id, stream_version\)=\((.*), (\d+)\) already exists/.exec(detail);
  if (code === '23505' && duplicate) {
    return new WrongExpectedVersionError(duplicate[1], Number(duplicate[2]) - 1, Number(duplicate[2]));
  }
  return undefined;
}
