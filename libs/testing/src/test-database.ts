import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource, MigrationInterface } from 'typeorm';
import { provisionTestDatabase, TEST_AUDIT_ROLE, testRoleUrl, testServiceRole } from './database-roles';

/** A throw-away PostgreSQL database for one test file, created on the real server. */
export class TestDatabase {
  private constructor(
    readonly name: string,
    readonly url: string,
    private readonly adminUrl: string,
  ) {}

  static async create(prefix = 'fl_test'): Promise<TestDatabase> {
    const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? process.env.DATABASE_URL;
    if (!adminUrl)
      throw new Error('DATABASE_URL is not set: run integration tests through jest (global setup)');
    const name = `${prefix}_${randomBytes(5).toString('hex')}`;
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    // Service roles own their schemas, the audit role its replay schemas (docs/deploy.md, "Database roles").
    await provisionTestDatabase(adminUrl, url.toString());
    return new TestDatabase(name, url.toString(), adminUrl);
  }

  /**
   * The URL a service connects with: its own role, owner of `schema` only (the superuser's `url` when the
   * schema has no role, e.g. a library test's own schema). `url` stays the administrator's, for tests that
   * read or tamper with tables directly.
   */
  serviceUrl(schema: string): string {
    const role = testServiceRole(schema);
    return role ? testRoleUrl(this.url, role) : this.url;
  }

  /** The URL the audit CLI connects with: reads every service schema, writes only `<schema>_replay`. */
  get auditUrl(): string {
    return testRoleUrl(this.url, TEST_AUDIT_ROLE);
  }

  private admin?: Promise<DataSource>;

  /**
   * A DataSource as the administrator (superuser), for what no service role may do: read across schemas,
   * tamper with a log to prove verification catches it, rebuild projections into scratch schemas.
   */
  adminDataSource(): Promise<DataSource> {
    this.admin ??= new DataSource({ type: 'postgres', url: this.url, extra: { max: 4 } }).initialize();
    return this.admin;
  }

  async dataSource(migrations: (new () => MigrationInterface)[] = [], poolSize = 10): Promise<DataSource> {
    const dataSource = new DataSource({
      type: 'postgres',
      url: this.url,
      migrations,
      migrationsTableName: 'migrations',
      extra: { max: poolSize },
    });
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
    return dataSource;
  }

  async drop(): Promise<void> {
    if (this.admin) await (await this.admin).destroy();
    const admin = new Client({ connectionString: this.adminUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
}
