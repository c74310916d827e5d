import { v7 as uuidv7 } from 'uuid';
import { EventEnvelope, EventHeaders, EventRegistry, NewEvent, Principal } from '@fleetledger/contracts';
import { jsonRoundTrip } from './canonical-json';
import { InvalidEventError, MissingPrincipalError, WrongExpectedVersionError } from './errors';
import { ChainVerification, chainHash, GENESIS_HASH } from './hash-chain';
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

interface EventRow {
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
  prev_hash?: string;
  hash?: string;
}

const EVENT_COLUMNS =
  'global_position, event_id, stream_id, stream_version, type, schema_version, payload, metadata, occurred_at, recorded_at';

/**
 * The append-only, hash-chained event log of one service (DESIGN.md section 4).
 *
 * Appends take a row lock on `log_head`, so within a service appends are serialised: positions are
 * assigned in commit order and a reader following `global_position` never skips an event that
 * commits late. The price is one writer at a time per service; callers batch events per
 * transaction where throughput matters. Writers run with `idle_in_transaction_session_timeout`
 * (see `runInTransaction`) so a stuck writer stalls the others for a bounded time only.
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
   * Appends to several streams atomically inside the caller's transaction. If any stream is not at
   * its expected version, throws WrongExpectedVersionError and the caller's transaction must roll back.
   */
  async appendToStreams(
    tx: Queryable,
    appends: readonly StreamAppend[],
    context: AppendContext,
  ): Promise<EventEnvelope[]> {
    const total = appends.reduce((n, a) => n + a.events.length, 0);
    if (total === 0) return [];

    // Validate before taking the lock: a bad event is a bug and must not hold up other writers.
    const validated = appends.map((a) => ({
      ...a,
      events: a.events.map((event) => {
        const result = this.registry.validateNew(event.type, event.payload);
        if (!result.ok) throw new InvalidEventError(event.type, result.detail);
        return { ...event, payload: jsonRoundTrip(result.value) };
      }),
    }));

    const [head] = await tx.query<{ global_position: string; hash: string }[]>(
      `SELECT global_position, hash FROM ${this.s}.log_head WHERE id = 1 FOR UPDATE`,
    );
    let position = Number(head.global_position);
    let prevHash = head.hash;

    const streamIds = [...new Set(validated.map((a) => a.streamId))];
    const versions = new Map<string, number>(
      // One backward index probe per stream (not a scan of the whole stream, which grows).
      (
        await tx.query<{ stream_id: string; version: number }[]>(
          `SELECT s.stream_id, v.version FROM unnest($1::text[]) AS s(stream_id)
             CROSS JOIN LATERAL (SELECT e.stream_version AS version FROM ${this.s}.events e
                                  WHERE e.stream_id = s.stream_id ORDER BY e.stream_version DESC LIMIT 1) v`,
          [streamIds],
        )
      ).map((row) => [row.stream_id, row.version]),
    );

    const recordedAt = this.now().toISOString();
    const envelopes: EventEnvelope[] = [];
    const metadatas: unknown[] = [];
    const hashes: { prev: string; hash: string }[] = [];

    const ambient = context.principal ?? this.ambientPrincipal();
    for (const append of validated) {
      const causal = { ...context, ...append.context };
      const principal = append.context?.principal ?? ambient;
      if (!principal) throw new MissingPrincipalError(append.streamId);
      const metadata = jsonRoundTrip({
        ...(context.metadata ?? {}),
        correlationId: causal.correlationId,
        causationId: causal.causationId,
        tenantId: causal.tenantId,
        principal,
      });
      const actual = versions.get(append.streamId) ?? 0;
      if (append.expectedVersion !== 'any' && append.expectedVersion !== actual) {
        throw new WrongExpectedVersionError(append.streamId, append.expectedVersion, actual);
      }
      let version = actual;
      for (const event of append.events) {
        position += 1;
        version += 1;
        const envelope: EventEnvelope = {
          eventId: event.eventId ?? uuidv7(),
          type: event.type,
          schemaVersion: this.registry.definition(event.type)!.schemaVersion,
          streamId: append.streamId,
          streamVersion: version,
          globalPosition: position,
          occurredAt: new Date(event.occurredAt).toISOString(),
          recordedAt,
          correlationId: causal.correlationId,
          ...(causal.causationId ? { causationId: causal.causationId } : {}),
          ...(causal.tenantId ? { tenantId: causal.tenantId } : {}),
          principal,
          payload: event.payload,
        };
        const hash = chainHash(prevHash, { ...envelope, metadata });
        hashes.push({ prev: prevHash, hash });
        metadatas.push(metadata);
        prevHash = hash;
        envelopes.push(envelope);
      }
      versions.set(append.streamId, version);
    }

    // Rows go to Postgres as ONE JSON document per statement, expanded with jsonb_array_elements:
    // node-postgres would otherwise escape every payload into an array literal (`$n::jsonb[]`), which
    // costs several times more than the insert itself on large batches. `r->'payload'` keeps a JSON
    // null as jsonb null (jsonb_to_recordset would turn it into SQL NULL), so what is stored equals,
    // as jsonb, what the hash above was computed over.
    await tx.query(
      `INSERT INTO ${this.s}.events (${EVENT_COLUMNS}, prev_hash, hash)
       SELECT (r->>'globalPosition')::bigint, (r->>'eventId')::uuid, r->>'streamId', (r->>'streamVersion')::int,
              r->>'type', (r->>'schemaVersion')::int, r->'payload', r->'metadata',
              (r->>'occurredAt')::timestamptz, (r->>'recordedAt')::timestamptz, r->>'prevHash', r->>'hash'
         FROM jsonb_array_elements($1::jsonb) AS r`,
      [
        JSON.stringify(
          envelopes.map((e, i) => ({
            globalPosition: e.globalPosition,
            eventId: e.eventId,
            streamId: e.streamId,
            streamVersion: e.streamVersion,
            type: e.type,
            schemaVersion: e.schemaVersion,
            payload: e.payload,
            metadata: metadatas[i],
            occurredAt: e.occurredAt,
            recordedAt: e.recordedAt,
            prevHash: hashes[i].prev,
            hash: hashes[i].hash,
          })),
        ),
      ],
    );

    if (context.topic) {
      // Outbox ids (bigserial) are the publish order: assign them in array (= log) order.
      await tx.query(
        `INSERT INTO ${this.s}.outbox (global_position, topic, message_key, message, headers)
         SELECT (r->>'globalPosition')::bigint, $2::text, r->>'key', r->'message', r->'headers'
           FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(r, n)
          ORDER BY n`,
        [
          JSON.stringify(
            envelopes.map((e) => ({
              globalPosition: e.globalPosition,
              key: e.streamId,
              message: e,
              headers: headersFor(e),
            })),
          ),
          context.topic,
        ],
      );
    }

    await tx.query(`UPDATE ${this.s}.log_head SET global_position = $1, hash = $2 WHERE id = 1`, [
      position,
      prevHash,
    ]);
    return envelopes;
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
    const rows = await db.query<EventRow[]>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.s}.events WHERE stream_id = $1 ORDER BY stream_version`,
      [streamId],
    );
    return rows.map((row) => this.toEnvelope(row));
  }

  /**
   * Events after `afterPosition` in log order. `recordedUntil` limits the read to what had been
   * recorded at that instant (replay "as of").
   */
  async readAll(
    db: Queryable,
    afterPosition: number,
    limit: number,
    options: { recordedUntil?: string } = {},
  ): Promise<EventEnvelope[]> {
    const params: unknown[] = [afterPosition, limit];
    let until = '';
    if (options.recordedUntil) {
      params.push(options.recordedUntil);
      until = 'AND recorded_at <= $3';
    }
    const rows = await db.query<EventRow[]>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.s}.events WHERE global_position > $1 ${until}
        ORDER BY global_position LIMIT $2`,
      params,
    );
    return rows.map((row) => this.toEnvelope(row));
  }

  async headPosition(db: Queryable): Promise<number> {
    const [row] = await db.query<{ global_position: string }[]>(
      `SELECT global_position FROM ${this.s}.log_head`,
    );
    return Number(row.global_position);
  }

  /** Walks the whole log and checks every link of the hash chain, reporting the first broken one. */
  async verifyChain(db: Queryable, batchSize = 5000): Promise<ChainVerification> {
    let prevHash = GENESIS_HASH;
    let lastPosition = 0;
    let checked = 0;
    for (;;) {
      const rows = await db.query<EventRow[]>(
        `SELECT ${EVENT_COLUMNS}, prev_hash, hash FROM ${this.s}.events WHERE global_position > $1
          ORDER BY global_position LIMIT $2`,
        [lastPosition, batchSize],
      );
      for (const row of rows) {
        const position = Number(row.global_position);
        const base = { ok: false, eventsChecked: checked, lastPosition, lastHash: prevHash };
        if (position !== lastPosition + 1) {
          return {
            ...base,
            firstBreak: {
              kind: 'position-gap',
              globalPosition: position,
              expectedPosition: lastPosition + 1,
            },
          };
        }
        if (row.prev_hash !== prevHash) {
          return {
            ...base,
            firstBreak: {
              kind: 'prev-hash-mismatch',
              globalPosition: position,
              eventId: row.event_id,
              expected: prevHash,
              stored: row.prev_hash!,
            },
          };
        }
        const expected = chainHash(prevHash, {
          globalPosition: position,
          eventId: row.event_id,
          streamId: row.stream_id,
          streamVersion: row.stream_version,
          type: row.type,
          schemaVersion: row.schema_version,
          payload: row.payload,
          metadata: row.metadata,
          occurredAt: row.occurred_at.toISOString(),
          recordedAt: row.recorded_at.toISOString(),
        });
        if (expected !== row.hash) {
          return {
            ...base,
            firstBreak: {
              kind: 'hash-mismatch',
              globalPosition: position,
              eventId: row.event_id,
              expected,
              stored: row.hash!,
            },
          };
        }
        prevHash = row.hash;
        lastPosition = position;
        checked += 1;
      }
      if (rows.length < batchSize) break;
    }
    const [head] = await db.query<{ global_position: string; hash: string }[]>(
      `SELECT global_position, hash FROM ${this.s}.log_head`,
    );
    if (Number(head.global_position) !== lastPosition || head.hash !== prevHash) {
      return {
        ok: false,
        eventsChecked: checked,
        lastPosition,
        lastHash: prevHash,
        firstBreak: {
          kind: 'position-gap',
          globalPosition: Number(head.global_position),
          expectedPosition: lastPosition,
        },
      };
    }
    return { ok: true, eventsChecked: checked, lastPosition, lastHash: prevHash };
  }

  private toEnvelope(row: EventRow): EventEnvelope {
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
