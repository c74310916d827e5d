/**
 * PostgreSQL least privilege (DESIGN.md 5a), as SQL text: pure functions, no connection. The provisioning
 * step (scripts/db-provision.ts, the k8s provisioning Job, the test harness) runs what they return once as an
 * administrator; the services then connect, and migrate, as their own roles.
 *
 * Roles (with the default prefix `fleetledger`):
 * - `fleetledger_<schema>` (LOGIN), one per service: owns its schema and everything in it except the event
 *   log; no rights on other schemas; no CREATE on the database or on `public`. Runs its own migrations.
 * - `fleetledger_audit` (LOGIN): SELECT on every service schema; owns the `<schema>_replay` schemas, the only
 *   place it writes.
 * - `fleetledger_event_log` (NOLOGIN, nobody is a member): owns each schema's `events` table and its
 *   append-only trigger function. Service roles get SELECT and INSERT on it only, so no service can UPDATE,
 *   DELETE or TRUNCATE its log, nor re-grant itself those rights, nor drop the trigger (the trigger stays as
 *   a second line for anyone else). An event trigger refuses to non-superusers the drop of a service schema
 *   or of its log, which the schema's owner could otherwise do.
 *
 * Everything is idempotent: provisioning may run again at every deploy. Role creation is cluster-wide and
 * race-safe (a concurrent creator's `duplicate_object` / `unique_violation` is ignored); the rest is per
 * database.
 */

export const SERVICE_SCHEMAS = ['inventory', 'allocation', 'metering', 'billing'] as const;
export const DEFAULT_ROLE_PREFIX = 'fleetledger';
/** Schema (in each database) holding the one SECURITY DEFINER function that seals a fresh event log. */
export const ADMIN_SCHEMA = 'fleetledger_admin';

export interface DatabaseRolePlan {
  /** Role names are `<prefix>_<schema>`, `<prefix>_audit`, `<prefix>_event_log`. Default `fleetledger`. */
  prefix?: string;
  /** The service schemas to provision. Default: the four services. */
  schemas?: readonly string[];
  /** Login passwords by role name. A role without one keeps the password it has (none when created). */
  passwords?: Readonly<Record<string, string | undefined>>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a safe SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

function literal(text: string): string {
  if (text.includes('\0')) throw new Error('a NUL byte cannot be part of a SQL literal');
  return `'${text.replace(/'/g, "''")}'`;
}

export function serviceRole(schema: string, prefix = DEFAULT_ROLE_PREFIX): string {
  return `${prefix}_${schema}`;
}

export function auditRole(prefix = DEFAULT_ROLE_PREFIX): string {
  return `${prefix}_audit`;
}

export function eventLogRole(prefix = DEFAULT_ROLE_PREFIX): string {
  return `${prefix}_event_log`;
}

/** Where the audit CLI replays a service schema's projections (apps/audit/src/replay.ts). */
export function replaySchemaOf(schema: string): string {
  return `${schema}_replay`;
}

/** The login roles of a plan: one per service schema, then the audit role. */
export function loginRoles(plan: DatabaseRolePlan = {}): string[] {
  const prefix = plan.prefix ?? DEFAULT_ROLE_PREFIX;
  return [...(plan.schemas ?? SERVICE_SCHEMAS).map((s) => serviceRole(s, prefix)), auditRole(prefix)];
}

function createRoleIfMissing(role: string, login: boolean): string {
  return `DO $$ BEGIN
  CREATE ROLE ${ident(role)} ${login ? 'LOGIN' : 'NOLOGIN'};
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- created already, maybe concurrently
END $$`;
}

/** Cluster-wide: the roles, their attributes and passwords. Safe to run concurrently from several sessions. */
export function clusterRoleStatements(plan: DatabaseRolePlan = {}): string[] {
  const statements: string[] = [];
  const restricted = 'NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';
  for (const role of loginRoles(plan)) {
    const password = plan.passwords?.[role];
    statements.push(
      createRoleIfMissing(role, true),
      `ALTER ROLE ${ident(role)} LOGIN ${restricted} NOINHERIT` +
        (password === undefined ? '' : ` PASSWORD ${literal(password)}`),
    );
  }
  const log = eventLogRole(plan.prefix);
  statements.push(createRoleIfMissing(log, false), `ALTER ROLE ${ident(log)} NOLOGIN ${restricted}`);
  return statements;
}

/**
 * The function a service's migration calls (as the service role) right after creating its event store, so
 * a fresh log is sealed without another admin step: it hands `<schema>.events` and its trigger function to
 * the event-log role and leaves the schema's owner SELECT and INSERT. Only the schema's owner (or a
 * superuser) may call it, only for its own schema.
 */
function sealFunctionStatements(plan: DatabaseRolePlan): string[] {
  const log = eventLogRole(plan.prefix);
  const audit = auditRole(plan.prefix);
  const fn = `${ident(ADMIN_SCHEMA)}.seal_event_log(text)`;
  return [
    `CREATE SCHEMA IF NOT EXISTS ${ident(ADMIN_SCHEMA)}`,
    `REVOKE ALL ON SCHEMA ${ident(ADMIN_SCHEMA)} FROM PUBLIC`,
    `CREATE OR REPLACE FUNCTION ${ident(ADMIN_SCHEMA)}.seal_event_log(target_schema text) RETURNS void
     LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
     DECLARE
       schema_owner name;
     BEGIN
       SELECT r.rolname INTO schema_owner
         FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = target_schema;
       IF schema_owner IS NULL THEN
         RAISE EXCEPTION 'schema % does not exist', target_schema;
       END IF;
       IF session_user <> schema_owner AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
         RAISE EXCEPTION 'only the owner of schema % may seal its event log', target_schema;
       END IF;
       IF NOT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = target_schema AND c.relname = 'events' AND c.relkind = 'r') THEN
         RETURN;
       END IF;
       -- The log role checks the outbox's foreign key into events, so it needs to see the schema.
       EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', target_schema, ${literal(log)});
       EXECUTE format('ALTER TABLE %I.events OWNER TO %I', target_schema, ${literal(log)});
       EXECUTE format('REVOKE ALL ON %I.events FROM %I', target_schema, schema_owner);
       EXECUTE format('GRANT SELECT, INSERT ON %I.events TO %I', target_schema, schema_owner);
       IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(audit)}) THEN
         EXECUTE format('GRANT SELECT ON %I.events TO %I', target_schema, ${literal(audit)});
       END IF;
       IF EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = target_schema AND p.proname = 'refuse_event_change') THEN
         EXECUTE format('ALTER FUNCTION %I.refuse_event_change() OWNER TO %I', target_schema, ${literal(log)});
       END IF;
       -- Concurrent appends (issue #19): the sealer chains new events in event_chain, so their hash columns
       -- stay empty; the chain table is sealed like the log.
       IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = target_schema AND c.relname = 'event_chain' AND c.relkind = 'r') THEN
         EXECUTE format('ALTER TABLE %I.events ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL', target_schema);
         EXECUTE format('ALTER TABLE %I.event_chain OWNER TO %I', target_schema, ${literal(log)});
         EXECUTE format('REVOKE ALL ON %I.event_chain FROM %I', target_schema, schema_owner);
         EXECUTE format('GRANT SELECT, INSERT ON %I.event_chain TO %I', target_schema, schema_owner);
         IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(audit)}) THEN
           EXECUTE format('GRANT SELECT ON %I.event_chain TO %I', target_schema, ${literal(audit)});
         END IF;
       END IF;
     END $fn$`,
    `REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`,
  ];
}

/**
 * The owner of a schema may drop any table in it, so ownership alone would let a service drop its sealed log.
 * An event trigger (only a superuser can create one) refuses, to everyone but superusers, dropping a service
 * schema or its `events` table. Without superuser rights provisioning goes on with a warning.
 */
function dropGuardStatements(schemas: readonly string[]): string[] {
  const names = `ARRAY[${schemas.map(literal).join(', ')}]::text[]`;
  return [
    `CREATE OR REPLACE FUNCTION ${ident(ADMIN_SCHEMA)}.refuse_event_log_drop() RETURNS event_trigger
     LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
     DECLARE
       dropped record;
     BEGIN
       IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
         RETURN;
       END IF;
       FOR dropped IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
         IF (dropped.object_type = 'table' AND dropped.object_name = 'events' AND dropped.schema_name = ANY (${names}))
            OR (dropped.object_type = 'schema' AND dropped.object_name = ANY (${names})) THEN
           RAISE EXCEPTION 'the event log is append-only: % % may not be dropped', dropped.object_type, dropped.object_identity;
         END IF;
       END LOOP;
     END $fn$`,
    `DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'fleetledger_keep_event_logs') THEN
    CREATE EVENT TRIGGER fleetledger_keep_event_logs ON sql_drop
      EXECUTE FUNCTION ${ident(ADMIN_SCHEMA)}.refuse_event_log_drop();
  END IF;
EXCEPTION
  WHEN duplicate_object THEN NULL;
  WHEN insufficient_privilege THEN
    RAISE WARNING 'not a superuser: no event trigger keeps service roles from dropping their event logs';
END $$`,
  ];
}

/**
 * Hands objects a superuser created in the schema before roles existed (an existing database migrated as
 * the superuser) to the service role: tables, partitions, views, free-standing sequences, functions. The
 * event log and its trigger function are left to the seal.
 */
function adoptExistingObjects(schema: string, role: string): string {
  return `DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS rel,
           CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = ${literal(schema)} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
       AND c.relowner <> ${literal(role)}::regrole AND c.relname NOT IN ('events', 'event_chain')
       AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                              AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.rel, ${literal(role)});
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS fn FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = ${literal(schema)} AND p.proowner <> ${literal(role)}::regrole
       AND p.prokind IN ('f', 'p') AND p.proname <> 'refuse_event_change'
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.fn, ${literal(role)});
  END LOOP;
END $$`;
}

/**
 * Moves TypeORM's migration history from `public.<schema>_migrations` (where services kept it before they
 * had roles) into the service's own schema, once; the service then finds its applied migrations there.
 */
function moveMigrationHistory(schema: string, role: string): string {
  const table = `${schema}_migrations`;
  return `DO $$ BEGIN
  IF to_regclass(${literal(`public.${ident(table)}`)}) IS NOT NULL
     AND to_regclass(${literal(`${ident(schema)}.${ident(table)}`)}) IS NULL THEN
    ALTER TABLE public.${ident(table)} SET SCHEMA ${ident(schema)};
  END IF;
  IF to_regclass(${literal(`${ident(schema)}.${ident(table)}`)}) IS NOT NULL THEN
    ALTER TABLE ${ident(schema)}.${ident(table)} OWNER TO ${ident(role)};
  END IF;
END $$`;
}

/**
 * Per database: schemas owned by their service roles, the audit role's reads and replay schemas, the event
 * logs sealed, CREATE on the database and on `public` kept from the roles. Run after
 * `clusterRoleStatements`, connected to `database`, as a superuser.
 */
export function databaseStatements(database: string, plan: DatabaseRolePlan = {}): string[] {
  const prefix = plan.prefix ?? DEFAULT_ROLE_PREFIX;
  const schemas = plan.schemas ?? SERVICE_SCHEMAS;
  const audit = auditRole(prefix);
  const db = ident(database);
  const statements: string[] = [
    `REVOKE CREATE ON DATABASE ${db} FROM PUBLIC`,
    `REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
  ];
  for (const role of loginRoles(plan)) {
    statements.push(
      `REVOKE ALL ON DATABASE ${db} FROM ${ident(role)}`,
      // TEMPORARY: metering stages ingestion batches in a temp table.
      `GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${ident(role)}`,
      `REVOKE ALL ON SCHEMA public FROM ${ident(role)}`,
    );
  }
  statements.push(...sealFunctionStatements(plan), ...dropGuardStatements(schemas));
  for (const schema of schemas) {
    const role = serviceRole(schema, prefix);
    const replay = replaySchemaOf(schema);
    statements.push(
      `CREATE SCHEMA IF NOT EXISTS ${ident(schema)} AUTHORIZATION ${ident(role)}`,
      `ALTER SCHEMA ${ident(schema)} OWNER TO ${ident(role)}`,
      `REVOKE ALL ON SCHEMA ${ident(schema)} FROM PUBLIC`,
      adoptExistingObjects(schema, role),
      moveMigrationHistory(schema, role),
      `GRANT USAGE ON SCHEMA ${ident(ADMIN_SCHEMA)} TO ${ident(role)}`,
      `GRANT EXECUTE ON FUNCTION ${ident(ADMIN_SCHEMA)}.seal_event_log(text) TO ${ident(role)}`,
      // The audit role reads everything the service has and will create.
      `GRANT USAGE ON SCHEMA ${ident(schema)} TO ${ident(audit)}`,
      `GRANT SELECT ON ALL TABLES IN SCHEMA ${ident(schema)} TO ${ident(audit)}`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${ident(role)} IN SCHEMA ${ident(schema)} GRANT SELECT ON TABLES TO ${ident(audit)}`,
      `SELECT ${ident(ADMIN_SCHEMA)}.seal_event_log(${literal(schema)})`,
      // ... and writes only its replays.
      `CREATE SCHEMA IF NOT EXISTS ${ident(replay)} AUTHORIZATION ${ident(audit)}`,
      `ALTER SCHEMA ${ident(replay)} OWNER TO ${ident(audit)}`,
      `REVOKE ALL ON SCHEMA ${ident(replay)} FROM PUBLIC`,
    );
  }
  return statements;
}

/**
 * A role's connection URL: the admin URL with the role's name and password (host, port, database and
 * query parameters kept).
 */
export function roleDatabaseUrl(adminUrl: string, role: string, password?: string): string {
  const url = new URL(adminUrl);
  url.username = encodeURIComponent(role);
  url.password = password === undefined ? '' : encodeURIComponent(password);
  return url.toString();
}

/**
 * The variable holding a login role's URL, for the provisioning step and the local stack:
 * `INVENTORY_DATABASE_URL` … `BILLING_DATABASE_URL`, and `AUDIT_DATABASE_URL` for the audit CLI.
 * Each service process still reads its own as `DATABASE_URL`.
 */
export function roleUrlVariable(schemaOrAudit: string): string {
  return `${schemaOrAudit.toUpperCase()}_DATABASE_URL`;
}

/** `role=password` lines (`#` comments and blank lines ignored), as scripts/infra.sh writes them. */
export function parsePasswordFile(text: string): Record<string, string> {
  const passwords: Record<string, string> = {};
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    if (at <= 0) throw new Error(`not a role=password line: ${line.slice(0, 40)}`);
    passwords[line.slice(0, at)] = line.slice(at + 1);
  }
  return passwords;
}

/**
 * Passwords from role URLs in the environment (in Kubernetes: the services' own Secrets, so a password lives
 * in one place). A URL must name the role it is for.
 */
export function passwordsFromRoleUrls(
  env: Readonly<Record<string, string | undefined>>,
  plan: DatabaseRolePlan = {},
): Record<string, string> {
  const prefix = plan.prefix ?? DEFAULT_ROLE_PREFIX;
  const passwords: Record<string, string> = {};
  const owners = [
    ...(plan.schemas ?? SERVICE_SCHEMAS).map((s) => [s, serviceRole(s, prefix)]),
    ['audit', auditRole(prefix)],
  ];
  for (const [name, role] of owners) {
    const variable = roleUrlVariable(name);
    const value = env[variable];
    if (!value) continue;
    const url = new URL(value);
    const user = decodeURIComponent(url.username);
    if (user !== role) throw new Error(`${variable} connects as ${user || 'nobody'}, not as ${role}`);
    if (url.password) passwords[role] = decodeURIComponent(url.password);
  }
  return passwords;
}
