const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** A Postgres schema or table name checked against a strict pattern, so it can be put in SQL text. */
export function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a safe SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/**
 * The minimal query surface the store needs: a TypeORM EntityManager, QueryRunner or DataSource all fit.
 * The caller names the rows it reads (`query<{ n: string }[]>(...)`): no `any` default, so a read whose
 * shape nobody stated does not compile into untyped code.
 */
export interface Queryable {
  query<T = unknown>(sql: string, parameters?: unknown[]): Promise<T>;
}

/**
 * `CREATE SCHEMA` only when the schema is missing. `CREATE SCHEMA IF NOT EXISTS` checks the CREATE right on
 * the database before it looks, so it fails for a role that owns a provisioned schema but may not create
 * schemas (docs/deploy.md, "Database roles").
 */
export function createSchemaIfMissingSql(schema: string): string {
  const s = ident(schema);
  return `DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${schema}') THEN CREATE SCHEMA ${s}; END IF;
END $$`;
}
