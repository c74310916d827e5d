import { DataSource } from 'typeorm';
import { newEvent, servicePrincipal } from '@fleetledger/contracts';
import {
  compareProjection,
  EventStore,
  Projection,
  ProjectionRunner,
  rebuildProjection,
  rebuildProjections,
  runInTransaction,
} from '@fleetledger/eventstore';
import { TestDatabase } from '@fleetledger/testing';
import { AccountOpened, balancesProjection, DepositMade, migrations, registry, SCHEMA } from './fixtures';

describe('projections: checkpointed runner, rebuild from zero, comparison', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  const store = new EventStore(SCHEMA, registry, {
    principal: () => servicePrincipal('test'),
  });

  beforeAll(async () => {
    db = await TestDatabase.create();
    dataSource = await db.dataSource(migrations);
    for (let account = 0; account < 20; account++) {
      await runInTransaction(dataSource, (tx) =>
        store.append(
          tx,
          `account-${account}`,
          0,
          [
            newEvent(
              AccountOpened,
              { accountId: `${account}`, owner: `lab-${account % 3}` },
              '2026-11-01T00:00:00Z',
            ),
            ...Array.from({ length: 5 }, (_, i) =>
              newEvent(
                DepositMade,
                { accountId: `${account}`, amountMinor: (account + 1) * (i + 1) },
                '2026-11-02T00:00:00Z',
              ),
            ),
          ],
          { correlationId: 'seed' },
        ),
      );
    }
    await new ProjectionRunner(dataSource, store, balancesProjection).catchUp(17);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('the checkpointed runner applied every event once', async () => {
    const [row] = await dataSource.query(
      `SELECT sum(balance_minor)::bigint AS total, count(*)::int AS n FROM ledger.balances`,
    );
    // sum over accounts a=1..20 of a * (1+2+3+4+5)
    expect(Number(row.total)).toBe(15 * 210);
    expect(row.n).toBe(20);
    expect(await new ProjectionRunner(dataSource, store, balancesProjection).runOnce()).toBe(0);
  });

  it('a projection rebuilt from position 0 into a fresh schema equals the live one', async () => {
    const progress: number[] = [];
    const result = await rebuildProjection(dataSource, store, balancesProjection, {
      batchSize: 25,
      onProgress: (p) => progress.push(p.eventsApplied),
    });
    expect(result.eventsApplied).toBe(120);
    expect(progress[progress.length - 1]).toBe(120);
    const comparison = await compareProjection(dataSource, balancesProjection, SCHEMA, result.targetSchema);
    expect(comparison).toEqual([
      expect.objectContaining({ table: 'balances', liveRows: 20, rebuiltRows: 20, equal: true }),
    ]);
  });

  it('the comparison reports a live row that no longer follows from the log', async () => {
    await dataSource.query(
      `UPDATE ledger.balances SET balance_minor = balance_minor + 1 WHERE account_id = '7'`,
    );
    const comparison = await compareProjection(dataSource, balancesProjection, SCHEMA, 'ledger_rebuild');
    expect(comparison[0].equal).toBe(false);
    await dataSource.query(
      `UPDATE ledger.balances SET balance_minor = balance_minor - 1 WHERE account_id = '7'`,
    );
  });

  it('an interrupted rebuild resumes from its checkpoint and ends equal', async () => {
    const target = 'ledger_resume';
    let calls = 0;
    await expect(
      rebuildProjection(dataSource, store, balancesProjection, {
        targetSchema: target,
        batchSize: 30,
        onProgress: () => {
          calls += 1;
          if (calls === 2) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    const [checkpoint] = await dataSource.query(`SELECT position FROM ledger_resume.rebuild_checkpoints`);
    expect(Number(checkpoint.position)).toBe(60);
    const resumed = await rebuildProjection(dataSource, store, balancesProjection, {
      targetSchema: target,
      batchSize: 30,
      resume: true,
    });
    expect(resumed.eventsApplied).toBe(120);
    const [comparison] = await compareProjection(dataSource, balancesProjection, SCHEMA, target);
    expect(comparison.equal).toBe(true);
  });

  it('projections of one source rebuild in one pass, each as if alone; a resumed pass applies nothing twice', async () => {
    await dataSource.query(
      `CREATE TABLE ledger.deposit_counts (account_id text PRIMARY KEY, deposits int NOT NULL)`,
    );
    const depositCounts: Projection = {
      name: 'deposit-counts',
      source: { kind: 'log' },
      tables: ['deposit_counts'],
      async apply(tx, event, schema) {
        if (event.type !== 'DepositMade') return;
        await tx.query(
          `INSERT INTO "${schema}".deposit_counts VALUES ($1, 1)
           ON CONFLICT (account_id) DO UPDATE SET deposits = deposit_counts.deposits + 1`,
          [(event.payload as { accountId: string }).accountId],
        );
      },
    };
    // Balances alone, interrupted at position 60; then both together, resumed: balances goes on from 60,
    // deposit counts (new to this target) from 0.
    let calls = 0;
    await expect(
      rebuildProjection(dataSource, store, balancesProjection, {
        targetSchema: 'ledger_group',
        batchSize: 30,
        onProgress: () => {
          if (++calls === 2) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    const together = await rebuildProjections(dataSource, store, [balancesProjection, depositCounts], {
      targetSchema: 'ledger_group',
      batchSize: 45,
      resume: true,
    });
    expect(together.position).toBe(120);
    const [balances] = await compareProjection(dataSource, balancesProjection, SCHEMA, 'ledger_group');
    expect(balances).toMatchObject({ rebuiltRows: 20, equal: true });
    await rebuildProjection(dataSource, store, depositCounts, { targetSchema: 'ledger_alone' });
    const [counts] = await compareProjection(dataSource, depositCounts, 'ledger_alone', 'ledger_group');
    expect(counts).toMatchObject({ liveRows: 20, rebuiltRows: 20, equal: true });
    const [{ total }] = await dataSource.query(
      `SELECT sum(deposits)::int AS total FROM ledger_group.deposit_counts`,
    );
    expect(total).toBe(100);
    await expect(
      rebuildProjections(dataSource, store, [
        balancesProjection,
        { ...depositCounts, source: { kind: 'inbox', consumer: 'someone' } },
      ]),
    ).rejects.toThrow('must share a source');
  });

  it('an as-of rebuild sees only events recorded up to that instant', async () => {
    const [{ cut }] = await dataSource.query(
      `SELECT recorded_at AS cut FROM ledger.events WHERE global_position = 30`,
    );
    const [{ n }] = await dataSource.query(
      `SELECT count(*)::int AS n FROM ledger.events WHERE recorded_at <= $1`,
      [cut],
    );
    const result = await rebuildProjection(dataSource, store, balancesProjection, {
      targetSchema: 'ledger_asof',
      recordedUntil: (cut as Date).toISOString(),
    });
    expect(result.eventsApplied).toBe(n);
    expect(n).toBeLessThan(120);
  });
});
