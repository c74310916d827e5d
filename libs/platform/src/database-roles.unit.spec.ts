import {
  auditRole,
  clusterRoleStatements,
  databaseStatements,
  eventLogRole,
  loginRoles,
  parsePasswordFile,
  passwordsFromRoleUrls,
  roleDatabaseUrl,
  roleUrlVariable,
  serviceRole,
} from './database-roles';

describe('database roles (the provisioning SQL)', () => {
  const cluster = clusterRoleStatements({ passwords: { fleetledger_billing: "it's-secret" } });
  const database = databaseStatements('fleetledger');

  it('names one login role per service, the audit role and the event-log owner', () => {
    expect(loginRoles()).toEqual([
      'fleetledger_inventory',
      'fleetledger_allocation',
      'fleetledger_metering',
      'fleetledger_billing',
      'fleetledger_audit',
    ]);
    expect([serviceRole('billing', 'x'), auditRole('x'), eventLogRole('x')]).toEqual([
      'x_billing',
      'x_audit',
      'x_event_log',
    ]);
  });

  it('creates roles so that a concurrent creator is not an error, and never as superusers', () => {
    const creates = cluster.filter((s) => s.includes('CREATE ROLE'));
    expect(creates).toHaveLength(6);
    for (const create of creates) expect(create).toMatch(/WHEN duplicate_object OR unique_violation/);
    for (const alter of cluster.filter((s) => s.startsWith('ALTER ROLE')))
      expect(alter).toMatch(/NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS/);
    expect(cluster.find((s) => s.includes('"fleetledger_event_log"') && s.startsWith('ALTER'))).toMatch(
      /NOLOGIN/,
    );
  });

  it('sets only the passwords it is given, quoted', () => {
    const withPassword = cluster.filter((s) => s.includes('PASSWORD'));
    expect(withPassword).toEqual([expect.stringContaining(`"fleetledger_billing"`)]);
    expect(withPassword[0]).toContain(`PASSWORD 'it''s-secret'`);
  });

  it('gives each service schema to its role, and CREATE on the database or public to nobody', () => {
    for (const schema of ['inventory', 'allocation', 'metering', 'billing']) {
      expect(database).toContain(`ALTER SCHEMA "${schema}" OWNER TO "fleetledger_${schema}"`);
      expect(database).toContain(`ALTER SCHEMA "${schema}_replay" OWNER TO "fleetledger_audit"`);
      expect(database).toContain(`SELECT "fleetledger_admin".seal_event_log('${schema}')`);
      expect(database).toContain(
        `ALTER DEFAULT PRIVILEGES FOR ROLE "fleetledger_${schema}" IN SCHEMA "${schema}" GRANT SELECT ON TABLES TO "fleetledger_audit"`,
      );
    }
    expect(database).toContain('REVOKE CREATE ON DATABASE "fleetledger" FROM PUBLIC');
    expect(database).toContain('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    expect(database.filter((s) => /GRANT[^;]*CREATE/.test(s) && !/CREATE SCHEMA/.test(s))).toEqual([]);
  });

  it('leaves a service SELECT and INSERT on its sealed event log, nothing more', () => {
    const seal = database.find((s) => s.includes('FUNCTION "fleetledger_admin".seal_event_log'))!;
    expect(seal).toContain('SECURITY DEFINER SET search_path = pg_catalog, pg_temp');
    expect(seal).toContain(`'ALTER TABLE %I.events OWNER TO %I', target_schema, 'fleetledger_event_log'`);
    expect(seal).toContain(`'GRANT SELECT, INSERT ON %I.events TO %I', target_schema, schema_owner`);
    expect(database).toContain('REVOKE ALL ON FUNCTION "fleetledger_admin".seal_event_log(text) FROM PUBLIC');
  });

  it('keeps non-superusers from dropping a service schema or its events table', () => {
    const guard = database.find((s) => s.includes('refuse_event_log_drop() RETURNS event_trigger'))!;
    expect(guard).toContain(`ARRAY['inventory', 'allocation', 'metering', 'billing']::text[]`);
    expect(database.find((s) => s.includes('CREATE EVENT TRIGGER'))).toMatch(
      /ON sql_drop[\s\S]*WHEN insufficient_privilege THEN\s+RAISE WARNING/,
    );
  });

  it('refuses names that are not plain identifiers', () => {
    expect(() => databaseStatements('fleet"; DROP DATABASE x; --')).toThrow(/identifier/);
    expect(() => clusterRoleStatements({ prefix: 'Robert' })).toThrow(/identifier/);
  });

  it('builds a role URL from the admin URL', () => {
    expect(
      roleDatabaseUrl(
        'postgres://postgres:admin@db:5432/fleetledger?sslmode=require',
        'fleetledger_billing',
        'p@ss/w',
      ),
    ).toBe('postgres://fleetledger_billing:p%40ss%2Fw@db:5432/fleetledger?sslmode=require');
  });

  it('reads passwords from a role=password file and from role URLs that name their role', () => {
    expect(parsePasswordFile('# local\n\nfleetledger_audit=a=b\nfleetledger_billing=x\n')).toEqual({
      fleetledger_audit: 'a=b',
      fleetledger_billing: 'x',
    });
    expect(roleUrlVariable('billing')).toBe('BILLING_DATABASE_URL');
    expect(
      passwordsFromRoleUrls({
        BILLING_DATABASE_URL: 'postgres://fleetledger_billing:s%40cret@db/fleetledger',
        AUDIT_DATABASE_URL: 'postgres://fleetledger_audit@db/fleetledger',
      }),
    ).toEqual({ fleetledger_billing: 's@cret' });
    expect(() =>
      passwordsFromRoleUrls({ INVENTORY_DATABASE_URL: 'postgres://postgres:x@db/fleetledger' }),
    ).toThrow(/connects as postgres, not as fleetledger_inventory/);
  });
});
