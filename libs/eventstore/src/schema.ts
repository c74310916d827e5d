import { MigrationInterface, QueryRunner } from 'typeorm';
import { createSchemaIfMissingSql, ident } from './sql';

/**
 * The event-store tables every service owns in its own schema:
 * - events:  the append-only log, hash-chained, ordered by global_position;
 * - log_head: one row holding the last position and hash. Appends lock it, so positions are handed
 *   out in commit order (a reader by position can never skip a late commit) and the chain is total;
 * - outbox:  what the relay must still publish to Kafka, written in the append's transaction;
 * - inbox:   every consumed event (with its envelope, for replay), unique per consumer and event id;
 * - projection_checkpoints: how far each asynchronous projection has read.
 */
export function eventStoreDdl(schema: string): string[] {
  const s = ident(schema);
  return [
    createSchemaIfMissingSql(schema),
    `CREATE TABLE ${s}.events (
       global_position bigint PRIMARY KEY,
       event_id uuid NOT NULL UNIQUE,
       stream_id text NOT NULL,
       stream_version integer NOT NULL CHECK (stream_version > 0),
       type text NOT NULL,
       schema_version integer NOT NULL,
       payload jsonb NOT NULL,
       metadata jsonb NOT NULL,
       occurred_at timestamptz NOT NULL,
       recorded_at timestamptz NOT NULL,
       prev_hash char(64) NOT NULL,
       hash char(64) NOT NULL,
       UNIQUE (stream_id, stream_version)
     )`,
    `CREATE INDEX events_recorded_at_idx ON ${s}.events (recorded_at)`,
    `CREATE TABLE ${s}.log_head (
       id smallint PRIMARY KEY CHECK (id = 1),
       global_position bigint NOT NULL,
       hash char(64) NOT NULL
     )`,
    `INSERT INTO ${s}.log_head (id, global_position, hash) VALUES (1, 0, repeat('0', 64))`,
    `CREATE TABLE ${s}.outbox (
       id bigserial PRIMARY KEY,
       global_position bigint NOT NULL REFERENCES ${s}.events (global_position),
       topic text NOT NULL,
       message_key text NOT NULL,
       message jsonb NOT NULL,
       headers jsonb NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       published_at timestamptz
     )`,
    `CREATE INDEX outbox_unpublished_idx ON ${s}.outbox (id) WHERE published_at IS NULL`,
    `CREATE TABLE ${s}.inbox (
       seq bigserial PRIMARY KEY,
       consumer text NOT NULL,
       event_id uuid NOT NULL,
       topic text NOT NULL,
       partition integer NOT NULL,
       kafka_offset bigint NOT NULL,
       envelope jsonb NOT NULL,
       processed_at timestamptz NOT NULL DEFAULT now(),
       UNIQUE (consumer, event_id)
     )`,
    `CREATE TABLE ${s}.dead_letters (
       id bigserial PRIMARY KEY,
       consumer text NOT NULL,
       topic text NOT NULL,
       partition integer NOT NULL,
       kafka_offset bigint NOT NULL,
       reason text NOT NULL,
       detail text NOT NULL,
       recorded_at timestamptz NOT NULL DEFAULT now(),
       UNIQUE (consumer, topic, partition, kafka_offset)
     )`,
    `CREATE TABLE ${s}.projection_checkpoints (
       projection text PRIMARY KEY,
       position bigint NOT NULL,
       updated_at timestamptz NOT NULL DEFAULT now()
     )`,
    `CREATE OR REPLACE FUNCTION ${s}.refuse_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF current_setting('fleetledger.allow_event_rewrite', true) = 'on' THEN
         RETURN COALESCE(NEW, OLD);
       END IF;
       RAISE EXCEPTION 'the event log is append-only (% refused)', TG_OP;
     END $$`,
    `CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ${s}.events
       FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_event_change()`,
  ];
}

/**
 * A TypeORM migration class that creates the event-store tables in `schema`.
 * Each service lists it first among its migrations.
 */
export function createEventStoreMigration(schema: string, timestamp: number): new () => MigrationInterface {
  const name = `EventStore${schema.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase())}${timestamp}`;
  const migration = class implements MigrationInterface {
    name = name;
    async up(queryRunner: QueryRunner): Promise<void> {
      for (const statement of eventStoreDdl(schema)) await queryRunner.query(statement);
    }
    async down(queryRunner: QueryRunner): Promise<void> {
      const s = ident(schema);
      for (const table of [
        'projection_checkpoints',
        'dead_letters',
        'inbox',
        'outbox',
        'log_head',
        'events',
      ]) {
        await queryRunner.query(`DROP TABLE IF EXISTS ${s}.${table}`);
      }
      await queryRunner.query(`DROP FUNCTION IF EXISTS ${s}.refuse_event_change()`);
    }
  };
  Object.defineProperty(migration, 'name', { value: name });
  return migration;
}

/**
 * A TypeORM migration that seals the event log right after the service created it: the provisioning step's
 * `fleetledger_admin.seal_event_log` hands `<schema>.events` to the event-log role, which leaves the service
 * role SELECT and INSERT only (libs/platform/src/database-roles.ts). On a database nobody provisioned the
 * function does not exist and this does nothing; provisioning seals existing logs itself when it runs.
 * Each service lists it after its event-store migration.
 */
export function createEventLogSealMigration(schema: string, timestamp: number): new () => MigrationInterface {
  const name = `SealEventLog${schema.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase())}${timestamp}`;
  ident(schema);
  const migration = class implements MigrationInterface {
    name = name;
    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                    WHERE n.nspname = 'fleetledger_admin' AND p.proname = 'seal_event_log') THEN
          PERFORM fleetledger_admin.seal_event_log('${schema}');
        END IF;
      END $$`);
    }
    async down(): Promise<void> {
      // Unsealing is an administrator's decision, not a rollback step.
    }
  };
  Object.defineProperty(migration, 'name', { value: name });
  return migration;
}

/**
 * Concurrent appends (issue #19, docs/architecture.md "Event store: concurrent appends"). Replaces the
 * `log_head` lock that every append held through its commit:
 * - positions come from a sequence (`events_position_seq`, CACHE 1), taken after the appending transaction has
 *   its id, so appends to different streams commit side by side and share WAL flushes;
 * - `log_head.horizon` (+ a candidate and the transaction id that set it) is the position up to which every
 *   transaction that took a position has ended: readers by position stop there and never skip a late commit;
 * - the hash chain of the new events lives in `event_chain`, written in position order by the sealer, which
 *   runs behind the writers; `log_head (global_position, hash)` is the sealed head from now on. Events recorded
 *   before keep their chain links in their own row;
 * - the outbox row is compact (position, topic, key): the relay reads the event row; no foreign key;
 * - `append_events` appends a batch to several streams (version checks, events, outbox) in one call.
 */
export function concurrentAppendDdl(schema: string): string[] {
  const s = ident(schema);
  return [
    `CREATE SEQUENCE ${s}.events_position_seq AS bigint CACHE 1`,
    `SELECT setval('${schema}.events_position_seq', greatest(h.global_position, 1), h.global_position > 0)
       FROM ${s}.log_head h WHERE h.id = 1`,
    `ALTER TABLE ${s}.log_head ADD COLUMN horizon bigint, ADD COLUMN horizon_candidate bigint,
       ADD COLUMN horizon_candidate_xid xid8`,
    `UPDATE ${s}.log_head SET horizon = global_position`,
    `ALTER TABLE ${s}.log_head ALTER COLUMN horizon SET NOT NULL`,
    `CREATE TABLE ${s}.event_chain (
       global_position bigint PRIMARY KEY,
       prev_hash char(64) NOT NULL,
       hash char(64) NOT NULL
     )`,
    `CREATE TRIGGER event_chain_append_only BEFORE UPDATE OR DELETE ON ${s}.event_chain
       FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_event_change()`,
    // Hash columns of events become optional (the sealer chains new events in event_chain). A sealed log is
    // owned by the event-log role: the provisioning's seal function does it (and hands event_chain over too);
    // on a database nobody provisioned, this role owns the log and does it itself.
    `DO $$ BEGIN
       IF EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = 'fleetledger_admin' AND p.proname = 'seal_event_log') THEN
         PERFORM fleetledger_admin.seal_event_log('${schema}');
       END IF;
       IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = '${schema}'
                   AND table_name = 'events' AND column_name = 'hash' AND is_nullable = 'NO') THEN
         ALTER TABLE ${s}.events ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL;
       END IF;
     END $$`,
    `ALTER TABLE ${s}.outbox DROP CONSTRAINT IF EXISTS outbox_global_position_fkey,
       ALTER COLUMN message DROP NOT NULL, ALTER COLUMN headers DROP NOT NULL`,
    // One call per append, set-based whatever the number of streams (a batch may touch thousands). Expected
    // versions are checked against the newest committed version; two appends racing on one stream both insert
    // the same next version and the unique (stream_id, stream_version) key makes the second wait for the first
    // and fail (a version conflict), so optimistic concurrency holds without any lock between streams.
    `CREATE FUNCTION ${s}.append_events(p_streams jsonb, p_events jsonb, p_recorded_at timestamptz, p_topic text,
       OUT versions integer[], OUT positions bigint[])
     LANGUAGE plpgsql AS $fn$
     DECLARE
       stream_ids text[] := ARRAY(SELECT x->>'id' FROM jsonb_array_elements(p_streams) WITH ORDINALITY AS t(x, n) ORDER BY n);
       metadatas jsonb[] := ARRAY(SELECT x->'metadata' FROM jsonb_array_elements(p_streams) WITH ORDINALITY AS t(x, n) ORDER BY n);
       conflict jsonb;
     BEGIN
       -- Announce a writer of this log (shared: writers do not block each other), and take the transaction id,
       -- before any position: the horizon's proof rests on this order.
       PERFORM pg_advisory_xact_lock_shared(hashtext('fleetledger.log-writers'), hashtext('${schema}'));
       PERFORM pg_current_xact_id();
       -- Each append's version: the stream's newest version plus the events of earlier appends to the same
       -- stream in this batch.
       WITH s AS (
         SELECT x->>'id' AS id, (x->>'expected')::integer AS expected, (x->>'count')::integer AS event_count, n
           FROM jsonb_array_elements(p_streams) WITH ORDINALITY AS t(x, n)
       ), base AS (
         SELECT d.id, coalesce((SELECT e.stream_version FROM ${s}.events e WHERE e.stream_id = d.id
                                 ORDER BY e.stream_version DESC LIMIT 1), 0) AS version
           FROM (SELECT DISTINCT id FROM s) d
       ), checked AS (
         SELECT s.n, s.id, s.expected,
                b.version + coalesce(sum(s.event_count) OVER (PARTITION BY s.id ORDER BY s.n
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::integer AS actual
           FROM s JOIN base b ON b.id = s.id
       )
       SELECT array_agg(c.actual ORDER BY c.n),
              (array_agg(jsonb_build_object('streamId', c.id, 'expected', c.expected, 'actual', c.actual) ORDER BY c.n)
                 FILTER (WHERE c.expected IS NOT NULL AND c.expected <> c.actual))[1]
         INTO versions, conflict FROM checked c;
       IF conflict IS NOT NULL THEN
         RAISE EXCEPTION 'wrong-expected-version' USING ERRCODE = 'FL409', DETAIL = conflict::text;
       END IF;
       positions := ARRAY(SELECT nextval('${schema}.events_position_seq') FROM generate_series(1, jsonb_array_length(p_events)));
       INSERT INTO ${s}.events (global_position, event_id, stream_id, stream_version, type, schema_version,
                                payload, metadata, occurred_at, recorded_at)
       SELECT positions[r.n], (r.e->>'id')::uuid, stream_ids[(r.e->>'s')::integer],
              versions[(r.e->>'s')::integer] + (r.e->>'k')::integer, r.e->>'type', (r.e->>'v')::integer,
              r.e->'payload', metadatas[(r.e->>'s')::integer], (r.e->>'at')::timestamptz, p_recorded_at
         FROM jsonb_array_elements(p_events) WITH ORDINALITY AS r(e, n);
       IF p_topic IS NOT NULL THEN
         INSERT INTO ${s}.outbox (global_position, topic, message_key)
         SELECT positions[r.n], p_topic, stream_ids[(r.e->>'s')::integer]
           FROM jsonb_array_elements(p_events) WITH ORDINALITY AS r(e, n) ORDER BY r.n;
       END IF;
     END $fn$`,
    // Moves the horizon (see docs/architecture.md for the proof). Phase 1 records the sequence's last value L
    // and then takes a fresh transaction id x; once every transaction older than x has ended (x below the
    // oldest running one), every transaction that took a position <= L has committed or rolled back, so L
    // becomes the horizon. Readers apply a promotable candidate themselves (read-only); this writes it down.
    // SECURITY DEFINER so the audit role, which only reads, can move it too.
    `CREATE FUNCTION ${s}.advance_log_horizon() RETURNS bigint
     LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
     DECLARE
       last_position bigint;
       head record;
       snap pg_snapshot;
       v_horizon bigint;
       v_candidate bigint;
     BEGIN
       -- Read L before this transaction has an id (the update below assigns it); a transaction that already
       -- had one may promote a candidate but not set one.
       SELECT CASE WHEN q.is_called THEN q.last_value ELSE q.last_value - 1 END INTO last_position
         FROM ${s}.events_position_seq q;
       snap := pg_current_snapshot();
       SELECT h.horizon, h.horizon_candidate, h.horizon_candidate_xid INTO head FROM ${s}.log_head h WHERE h.id = 1;
       v_horizon := head.horizon;
       v_candidate := head.horizon_candidate;
       IF head.horizon_candidate_xid IS NOT NULL AND head.horizon_candidate_xid < pg_snapshot_xmin(snap) THEN
         v_horizon := greatest(v_horizon, head.horizon_candidate);
         v_candidate := NULL;
       ELSIF head.horizon_candidate_xid IS NOT NULL AND head.horizon_candidate_xid < pg_snapshot_xmax(snap)
         AND NOT EXISTS (
           -- The same condition narrowed to this log's writers (they hold the shared writers lock until they
           -- end), so a long transaction elsewhere in the cluster does not hold this log's readers back.
           SELECT 1 FROM pg_locks w JOIN pg_locks t ON t.pid = w.pid AND t.locktype = 'transactionid' AND t.granted
            WHERE w.locktype = 'advisory' AND w.granted AND w.objsubid = 2
              AND w.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
              AND w.classid = (hashtext('fleetledger.log-writers')::bigint & 4294967295)::oid
              AND w.objid = (hashtext('${schema}')::bigint & 4294967295)::oid
              AND age(t.transactionid) >= age(head.horizon_candidate_xid::xid)) THEN
         v_horizon := greatest(v_horizon, head.horizon_candidate);
         v_candidate := NULL;
       ELSIF head.horizon_candidate_xid IS NOT NULL AND head.horizon_candidate_xid >= pg_snapshot_xmax(snap) THEN
         -- A committed candidate cannot have an id at or past the snapshot's xmax: it comes from another
         -- cluster (a restored dump; transaction ids do not survive one). Forget it.
         v_candidate := NULL;
       ELSIF head.horizon_candidate_xid IS NOT NULL THEN
         RETURN v_horizon; -- a transaction older than the candidate is still running: nothing to do yet
       END IF;
       IF last_position > v_horizon AND pg_current_xact_id_if_assigned() IS NULL THEN
         v_candidate := last_position;
       END IF;
       IF v_horizon = head.horizon AND v_candidate IS NOT DISTINCT FROM head.horizon_candidate THEN
         RETURN v_horizon;
       END IF;
       UPDATE ${s}.log_head h
          SET horizon = greatest(h.horizon, v_horizon),
              horizon_candidate = v_candidate,
              horizon_candidate_xid = CASE WHEN v_candidate IS NULL THEN NULL ELSE pg_current_xact_id() END
        WHERE h.id = 1 AND h.horizon_candidate IS NOT DISTINCT FROM head.horizon_candidate
          AND h.horizon_candidate_xid IS NOT DISTINCT FROM head.horizon_candidate_xid;
       RETURN v_horizon;
     END $fn$`,
  ];
}

/**
 * The TypeORM migration that moves a service's event store to concurrent appends (`concurrentAppendDdl`). Each
 * service lists it after its seal migration; a fresh database runs the three in a row.
 */
export function createConcurrentAppendMigration(
  schema: string,
  timestamp: number,
): new () => MigrationInterface {
  const name = `ConcurrentAppend${schema.replace(/(^|_)([a-z])/g, (_m, _u, c: string) => c.toUpperCase())}${timestamp}`;
  const migration = class implements MigrationInterface {
    name = name;
    async up(queryRunner: QueryRunner): Promise<void> {
      for (const statement of concurrentAppendDdl(schema)) await queryRunner.query(statement);
    }
    async down(): Promise<void> {
      // Positions handed out from the sequence may have gaps the old single-writer code would report as
      // broken; going back is a restore, not a rollback step.
      throw new Error(`${name} cannot be reverted`);
    }
  };
  Object.defineProperty(migration, 'name', { value: name });
  return migration;
}

/** The migrations of a complete, current event store: what a test or a bench schema lists first. */
export function eventStoreMigrations(schema: string, timestamp: number): (new () => MigrationInterface)[] {
  return [
    createEventStoreMigration(schema, timestamp),
    createConcurrentAppendMigration(schema, timestamp + 2),
  ];
}
