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
