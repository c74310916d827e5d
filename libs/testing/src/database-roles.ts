import {
  auditRole,
  DatabaseRolePlan,
  loginRoles,
  provisionDatabase,
  provisionRoles,
  roleDatabaseUrl,
  SERVICE_SCHEMAS,
  serviceRole,
} from '@fleetledger/platform';

/**
 * The roles tests run services as: the production provisioning (libs/platform/src/database-roles.ts) with
 * its own prefix, so a test run never changes the password of a dev stack's `fleetledger_*` roles on a
 * shared server. The example service of libs/testing gets a role like the four services.
 * The password only matters where the server asks for one (a container); it is not a secret.
 */
const TEST_ROLE_PASSWORD = 'fleetledger-test-only';
const prefix = 'fleetledger_test';
const schemas = [...SERVICE_SCHEMAS, 'example'];

export const TEST_ROLE_PLAN: DatabaseRolePlan = {
  prefix,
  schemas,
  passwords: Object.fromEntries(loginRoles({ prefix, schemas }).map((role) => [role, TEST_ROLE_PASSWORD])),
};

let rolesReady: Promise<void> | undefined;

/**
 * Creates (once per test process) the cluster-wide roles, then provisions one database for them. Roles are
 * shared by every test database and by concurrent test runs: creating them tolerates a concurrent creator.
 */
export async function provisionTestDatabase(adminUrl: string, databaseUrl: string): Promise<void> {
  rolesReady ??= provisionRoles(adminUrl, TEST_ROLE_PLAN).catch((error: unknown) => {
    rolesReady = undefined;
    throw error;
  });
  await rolesReady;
  await provisionDatabase(databaseUrl, TEST_ROLE_PLAN, { roles: false });
}

/** The login role of a provisioned schema in tests (`fleetledger_test_<schema>`), or undefined. */
export function testServiceRole(schema: string): string | undefined {
  return schemas.includes(schema) ? serviceRole(schema, prefix) : undefined;
}

export const TEST_AUDIT_ROLE = auditRole(prefix);

export function testRoleUrl(databaseUrl: string, role: string): string {
  return roleDatabaseUrl(databaseUrl, role, TEST_ROLE_PLAN.passwords?.[role]);
}
