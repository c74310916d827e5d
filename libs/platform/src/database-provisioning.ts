import { Client } from 'pg';
import { clusterRoleStatements, databaseStatements, DatabaseRolePlan } from './database-roles';

/** Errors a statement may hit only because another session provisions at the same time: worth a retry. */
function isConcurrencyError(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return (
    code === '40001' ||
    code === '40P01' ||
    code === '23505' ||
    (code === 'XX000' && /concurrently/.test(message ?? ''))
  );
}

async function runStatements(client: Client, statements: readonly string[]): Promise<void> {
  for (const statement of statements) {
    for (let attempt = 1; ; attempt++) {
      try {
        await client.query(statement);
        break;
      } catch (error) {
        if (!isConcurrencyError(error) || attempt >= 8) {
          (error as Error).message += `\n  while provisioning: ${statement.split('\n')[0].slice(0, 160)}`;
          throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 50));
      }
    }
  }
}

/**
 * Runs the provisioning SQL (libs/platform/src/database-roles.ts) as an administrator, connected to the
 * database the services use (the admin URL's path). `roles: false` skips the cluster-wide role statements
 * when the caller has already run them (tests create the roles once, then provision many databases).
 */
export async function provisionDatabase(
  adminUrl: string,
  plan: DatabaseRolePlan = {},
  options: { roles?: boolean } = {},
): Promise<void> {
  const database = decodeURIComponent(new URL(adminUrl).pathname.slice(1));
  if (!database) throw new Error('the admin database URL must name the database to provision');
  const client = new Client({ connectionString: adminUrl, application_name: 'fleetledger-provision' });
  await client.connect();
  try {
    if (options.roles !== false) await runStatements(client, clusterRoleStatements(plan));
    await runStatements(client, databaseStatements(database, plan));
  } finally {
    await client.end();
  }
}

/** The cluster-wide role statements alone (through any database of the cluster). */
export async function provisionRoles(adminUrl: string, plan: DatabaseRolePlan = {}): Promise<void> {
  const client = new Client({ connectionString: adminUrl, application_name: 'fleetledger-provision' });
  await client.connect();
  try {
    await runStatements(client, clusterRoleStatements(plan));
  } finally {
    await client.end();
  }
}
