import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  provisionDatabase,
  prepareServiceSchema,
  serviceMigrationOptions,
  ServiceOptions,
} from '@fleetledger/platform';
import { TEST_ROLE_PLAN, TestDatabase, testRoleUrl } from '@fleetledger/testing';
import { reconcileServices, replayServices } from '../apps/audit/src/replay';
import { auditedServices } from '../apps/audit/src/services';
import { billingService } from '../apps/billing/src/billing.options';
import { inventoryService } from '../apps/inventory/src/inventory.options';

/**
 * PostgreSQL least privilege (docs/deploy.md, "Database roles") on the real server: each service's role
 * owns its schema only, its event log is append-only for it, and the audit role reads every schema and
 * writes only the replay schemas. Failures are checked by SQLSTATE 42501 (insufficient_privilege).
 */
async function migrateAs(url: string, service: ServiceOptions): Promise<void> {
  const dataSource = new DataSource({ type: 'postgres', url, ...serviceMigrationOptions(service) });
  await prepareServiceSchema(url, service.schema);
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

/** Runs `sql` in a transaction that is always rolled back; resolves to the SQLSTATE it failed with, or 'ok'. */
async function attempt(client: Client, sql: string): Promise<string> {
  await client.query('BEGIN');
  try {
    await client.query(sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    await client.query('ROLLBACK');
  }
}

const EVENT_ROW = `(1, '018f0000-0000-7000-8000-000000000001', 's-1', 1, 'Test', 1, '{}', '{}', now(), now(),
  repeat('0', 64), repeat('1', 64))`;

describe('database roles: each service owns its schema only, the audit reads all', () => {
  let db: TestDatabase;
  let inventory: Client;
  let audit: Client;

  beforeAll(async () => {
    db = await TestDatabase.create('fl_roles');
    for (const service of auditedServices) await migrateAs(db.serviceUrl(service.schema), service);
    inventory = await connect(db.serviceUrl('inventory'));
    audit = await connect(db.auditUrl);
  });

  afterAll(async () => {
    await inventory?.end();
    await audit?.end();
    await db?.drop();
  });

  it('keeps each migration history in the service schema, none in public', async () => {
    const admin = await connect(db.url);
    try {
      const { rows } = await admin.query<{ schema: string; owner: string }>(
        `SELECT n.nspname AS schema, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname LIKE '%\\_migrations' ORDER BY 1`,
      );
      expect(rows).toEqual(
        ['allocation', 'billing', 'inventory', 'metering'].map((schema) => ({
          schema,
          owner: `fleetledger_test_${schema}`,
        })),
      );
    } finally {
      await admin.end();
    }
  });

  it("inventory's role neither reads nor writes billing's tables", async () => {
    expect(await attempt(inventory, 'SELECT * FROM billing.invoices')).toBe('42501');
    expect(await attempt(inventory, 'SELECT * FROM billing.events')).toBe('42501');
    expect(await attempt(inventory, `INSERT INTO billing.events VALUES ${EVENT_ROW}`)).toBe('42501');
    expect(await attempt(inventory, `UPDATE billing.invoices SET status = 'void'`)).toBe('42501');
    expect(await attempt(inventory, 'DELETE FROM billing.charges')).toBe('42501');
    expect(await attempt(inventory, 'DROP TABLE billing.charges')).toBe('42501');
  });

  it("inventory's role may not create schemas, nor anything in public", async () => {
    expect(await attempt(inventory, 'CREATE SCHEMA sneaky')).toBe('42501');
    expect(await attempt(inventory, 'CREATE TABLE public.sneaky (id int)')).toBe('42501');
  });

  it("inventory's role appends to its event log but can never change or delete a row of it", async () => {
    expect(await attempt(inventory, `INSERT INTO inventory.events VALUES ${EVENT_ROW}`)).toBe('ok');
    await inventory.query(`INSERT INTO inventory.events VALUES ${EVENT_ROW}`);
    expect(await attempt(inventory, `UPDATE inventory.events SET type = 'Forged'`)).toBe('42501');
    expect(await attempt(inventory, 'DELETE FROM inventory.events')).toBe('42501');
    expect(await attempt(inventory, 'TRUNCATE inventory.events CASCADE')).toBe('42501');
    // Nor can it give itself the right back, or switch off the trigger that is the second line.
    await inventory.query('GRANT UPDATE, DELETE ON inventory.events TO CURRENT_USER');
    expect(await attempt(inventory, `UPDATE inventory.events SET type = 'Forged'`)).toBe('42501');
    expect(await attempt(inventory, 'ALTER TABLE inventory.events DISABLE TRIGGER events_append_only')).toBe(
      '42501',
    );
    expect(
      await attempt(
        inventory,
        `CREATE OR REPLACE FUNCTION inventory.refuse_event_change() RETURNS trigger LANGUAGE plpgsql
           AS $$ BEGIN RETURN NEW; END $$`,
      ),
    ).toBe('42501');
    // Owning the schema would let it drop the table: an event trigger refuses (P0001: raised by the guard).
    expect(await attempt(inventory, 'DROP TABLE inventory.events CASCADE')).toBe('P0001');
    expect(await attempt(inventory, 'DROP SCHEMA inventory CASCADE')).toBe('P0001');
    const { rows } = await inventory.query('SELECT type FROM inventory.events');
    expect(rows).toEqual([{ type: 'Test' }]);
  });

  it("inventory's role still does what the service must: outbox, inbox, checkpoints, projections", async () => {
    for (const sql of [
      `INSERT INTO inventory.outbox (global_position, topic, message_key, message, headers)
         VALUES (1, 't', 'k', '{}', '{}')`,
      'UPDATE inventory.outbox SET published_at = now()',
      'UPDATE inventory.log_head SET global_position = 1 WHERE id = 1',
      `INSERT INTO inventory.inbox (consumer, event_id, topic, partition, kafka_offset, envelope)
         VALUES ('c', '018f0000-0000-7000-8000-000000000002', 't', 0, 0, '{}')`,
      `INSERT INTO inventory.projection_checkpoints (projection, position) VALUES ('p', 0)`,
      'UPDATE inventory.projection_checkpoints SET position = 1',
      'DELETE FROM inventory.class_health_counts',
      'CREATE TABLE inventory.next_projection (id int)',
    ])
      expect([sql, await attempt(inventory, sql)]).toEqual([sql, 'ok']);
  });

  it('the audit role reads every service schema, event logs included', async () => {
    for (const table of ['inventory.events', 'allocation.leases', 'metering.samples', 'billing.invoices']) {
      expect([table, await attempt(audit, `SELECT count(*) FROM ${table}`)]).toEqual([table, 'ok']);
    }
  });

  it('the audit role writes nowhere but the replay schemas', async () => {
    expect(await attempt(audit, `INSERT INTO billing.events VALUES ${EVENT_ROW}`)).toBe('42501');
    expect(await attempt(audit, `UPDATE billing.invoices SET status = 'void'`)).toBe('42501');
    expect(await attempt(audit, 'DELETE FROM inventory.events')).toBe('42501');
    expect(await attempt(audit, 'CREATE TABLE billing.sneaky (id int)')).toBe('42501');
    expect(await attempt(audit, 'CREATE SCHEMA sneaky')).toBe('42501');
    expect(await attempt(audit, 'CREATE TABLE public.sneaky (id int)')).toBe('42501');
    expect(await attempt(audit, 'CREATE TABLE billing_replay.scratch (id int)')).toBe('ok');
  });

  it('a service role that finds no provisioned schema, or its history still in public, is told what to run', async () => {
    await expect(prepareServiceSchema(db.serviceUrl('inventory'), 'warehouse')).rejects.toThrow(
      /schema warehouse does not exist and this role may not create it: run the database provisioning step/,
    );
    const admin = await connect(db.url);
    try {
      await admin.query('CREATE TABLE public.inventory_stock_migrations (id int)');
      await admin.query('CREATE SCHEMA inventory_stock AUTHORIZATION fleetledger_test_inventory');
      await expect(prepareServiceSchema(db.serviceUrl('inventory'), 'inventory_stock')).rejects.toThrow(
        /public.inventory_stock_migrations must move into schema inventory_stock.*run the database provisioning step/,
      );
    } finally {
      await admin.end();
    }
  });

  it('the audit CLI replays and reconciles every service as the audit role', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: db.auditUrl });
    await dataSource.initialize();
    try {
      // Inventory's log holds the hand-made row of the append test above, which no contract reads.
      const services = auditedServices.filter((s) => s.schema !== 'inventory');
      const replayed = await replayServices(dataSource, services);
      expect(new Set(replayed.map((r) => r.targetSchema))).toEqual(
        new Set(['allocation_replay', 'metering_replay', 'billing_replay']),
      );
      const reconciled = await reconcileServices(dataSource, services);
      expect(reconciled.flatMap((r) => r.tables).length).toBeGreaterThan(0);
    } finally {
      await dataSource.destroy();
    }
  });
});

describe('database roles on a database migrated before roles existed', () => {
  const name = `fl_roles_old_${randomBytes(4).toString('hex')}`;
  let adminUrl: string;

  beforeAll(async () => {
    const server = process.env.TEST_ADMIN_DATABASE_URL ?? process.env.DATABASE_URL!;
    const admin = await connect(server);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(server);
    url.pathname = `/${name}`;
    adminUrl = url.toString();
  });

  afterAll(async () => {
    const admin = await connect(process.env.TEST_ADMIN_DATABASE_URL ?? process.env.DATABASE_URL!);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });

  it('provisioning adopts the tables, seals the log and moves the migration history once', async () => {
    // The old layout: migrated by the superuser, history in public.
    for (const service of [inventoryService, billingService]) {
      const old = new DataSource({
        type: 'postgres',
        url: adminUrl,
        migrations: service.migrations.slice(0, -1), // the seal migration did not exist yet
        migrationsTableName: `${service.schema}_migrations`,
      });
      await old.initialize();
      await old.runMigrations({ transaction: 'each' });
      await old.destroy();
    }

    // A superuser's service (nobody provisioned the database) moves its history itself.
    await prepareServiceSchema(adminUrl, billingService.schema);

    await provisionDatabase(adminUrl, TEST_ROLE_PLAN);
    await provisionDatabase(adminUrl, TEST_ROLE_PLAN); // idempotent

    const admin = await connect(adminUrl);
    try {
      const { rows } = await admin.query<{ rel: string; owner: string }>(
        `SELECT c.oid::regclass::text AS rel, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
          WHERE c.oid::regclass::text IN ('inventory.events', 'inventory.gpus', 'inventory.inventory_migrations',
                                          'public.inventory_migrations', 'billing.invoices',
                                          'billing.billing_migrations', 'public.billing_migrations')
          ORDER BY 1`,
      );
      expect(rows).toEqual([
        { rel: 'billing.billing_migrations', owner: 'fleetledger_test_billing' },
        { rel: 'billing.invoices', owner: 'fleetledger_test_billing' },
        { rel: 'inventory.events', owner: 'fleetledger_test_event_log' },
        { rel: 'inventory.gpus', owner: 'fleetledger_test_inventory' },
        { rel: 'inventory.inventory_migrations', owner: 'fleetledger_test_inventory' },
      ]);
    } finally {
      await admin.end();
    }

    // The service now migrates as its role, finding its history: only the seal and concurrent appends are new.
    const inventoryUrl = testRoleUrl(adminUrl, 'fleetledger_test_inventory');
    await migrateAs(inventoryUrl, inventoryService);
    const inventory = await connect(inventoryUrl);
    try {
      const { rows } = await inventory.query(
        'SELECT name FROM inventory.inventory_migrations ORDER BY id DESC LIMIT 2',
      );
      expect(rows).toEqual([
        { name: 'ConcurrentAppendInventory1767000000000' },
        { name: 'SealEventLogInventory1765000000000' },
      ]);
      expect(await attempt(inventory, 'DELETE FROM inventory.events')).toBe('42501');
      expect(await attempt(inventory, 'UPDATE inventory.gpus SET health = health')).toBe('ok');
    } finally {
      await inventory.end();
    }
  });
});
