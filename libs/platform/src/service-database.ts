import { Client } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import { ConfigurationError } from './config';
import type { ServiceOptions } from './service-options';

/**
 * How a service's DataSource finds its migrations: TypeORM's history table `<schema>_migrations` lives in
 * the service's own schema (the `schema` option), where its role may write, not in `public`.
 */
export function serviceMigrationOptions(options: Pick<ServiceOptions, 'schema' | 'migrations'>) {
  return {
    schema: options.schema,
    migrations: options.migrations,
    migrationsTableName: `${options.schema}_migrations`,
  } satisfies Partial<DataSourceOptions>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Before migrating: the schema must exist for TypeORM's history table. Provisioning creates it, owned by the
 * service role (which may not create schemas); on a database nobody provisioned (a superuser's dev database)
 * it is created here. A history still in `public` from before roles existed is moved in when this role may,
 * else the error says to run the provisioning step, which moves it (docs/deploy.md, "Database roles").
 */
export async function prepareServiceSchema(url: string, schema: string): Promise<void> {
  if (!IDENTIFIER.test(schema)) throw new ConfigurationError(`not a safe schema name: ${schema}`);
  const history = `${schema}_migrations`;
  const client = new Client({ connectionString: url, application_name: `fleetledger-${schema}-migrate` });
  await client.connect();
  try {
    const [state] = (
      await client.query<{ has_schema: boolean; old_history: boolean; new_history: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS has_schema,
                to_regclass(format('public.%I', $2::text)) IS NOT NULL AS old_history,
                EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = $1 AND c.relname = $2) AS new_history`,
        [schema, history],
      )
    ).rows;
    // Replicas starting together may race here: what another one did first is fine.
    const unlessDoneConcurrently = (codes: string[]) => (error: { code?: string }) => {
      if (!codes.includes(error.code ?? '')) throw error;
    };
    try {
      if (!state.has_schema)
        await client.query(`CREATE SCHEMA "${schema}"`).catch(unlessDoneConcurrently(['42P06', '23505']));
      if (state.old_history && !state.new_history)
        await client
          .query(`ALTER TABLE public."${history}" SET SCHEMA "${schema}"`)
          .catch(unlessDoneConcurrently(['42P01', '42P07']));
    } catch (error) {
      if ((error as { code?: string }).code !== '42501') throw error;
      throw new ConfigurationError(
        state.has_schema
          ? `the migration history public.${history} must move into schema ${schema}, and this role may not move it: ` +
              'run the database provisioning step (docs/deploy.md, "Database roles")'
          : `schema ${schema} does not exist and this role may not create it: ` +
              'run the database provisioning step first (docs/deploy.md, "Database roles")',
      );
    }
  } finally {
    await client.end();
  }
}

/** The migration part of a service's TypeORM options; prepares the schema first when migrations run at start. */
export async function serviceMigrationSetup(
  env: { DATABASE_URL: string; MIGRATIONS_RUN: boolean },
  options: Pick<ServiceOptions, 'schema' | 'migrations'>,
) {
  if (env.MIGRATIONS_RUN) await prepareServiceSchema(env.DATABASE_URL, options.schema);
  return { ...serviceMigrationOptions(options), migrationsRun: env.MIGRATIONS_RUN };
}
