const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** A Postgres schema or table name checked against a strict pattern, so it can be put in SQL text. */
export function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a safe SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/** The minimal query surface the store needs: a TypeORM EntityManager, QueryRunner or DataSource all fit. */
export interface Queryable {
  query<T = any>(sql: string, parameters?: unknown[]): Promise<T>; // eslint-disable-line @typescript-eslint/no-explicit-any
}
