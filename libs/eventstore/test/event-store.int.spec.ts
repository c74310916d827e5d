import { DataSource } from 'typeorm';
import { EventRegistry, newEvent, servicePrincipal } from '@fleetledger/contracts';
import {
  EventStore,
  InvalidEventError,
  LogSealer,
  MissingPrincipalError,
  runInTransaction,
  WrongExpectedVersionError,
} from '@fleetledger/eventstore';
import { TestDatabase } from '@fleetledger/testing';
import { AccountOpened, DepositMade, DepositMadeV1, migrations, registry, SCHEMA } from './fixtures';

const at = '2026-11-01T00:00:00.000Z';
const ctx = { correlationId: 'test' };

describe('EventStore on PostgreSQL', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let store: EventStore;

  beforeAll(async () => {
    db = await TestDatabase.create();
    dataSource = await db.dataSource(migrations, 30);
    store = new EventStore(SCHEMA, registry, {
      principal: () => servicePrincipal('test'),
    });
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('appends and reads a stream back with versions and positions', async () => {
    await runInTransaction(dataSource, (tx) =>
      store.append(
        tx,
        'account-a',
        0,
        [
          newEvent(AccountOpened, { accountId: 'a', owner: 'lab-1' }, at),
          newEvent(DepositMade, { accountId: 'a', amountMinor: 500 }, at),
        ],
        ctx,
      ),
    );
    const events = await store.readStream(dataSource, 'account-a');
    expect(events.map((e) => [e.type, e.streamVersion])).toEqual([
      ['AccountOpened', 1],
      ['DepositMade', 2],
    ]);
    expect(events[1].globalPosition).toBe(events[0].globalPosition + 1);
    expect(await store.streamVersion(dataSource, 'account-a')).toBe(2);
  });

  it("keeps each caller's correlation id when several commands commit in one append", async () => {
    const [first, second] = await runInTransaction(dataSource, (tx) =>
      store.appendToStreams(
        tx,
        [
          {
            streamId: 'account-c1',
            expectedVersion: 0,
            events: [newEvent(AccountOpened, { accountId: 'c1', owner: 'x' }, at)],
            context: { correlationId: 'caller-1' },
          },
          {
            streamId: 'account-c2',
            expectedVersion: 0,
            events: [newEvent(AccountOpened, { accountId: 'c2', owner: 'y' }, at)],
            context: { correlationId: 'caller-2', causationId: 'cmd-2' },
          },
        ],
        { correlationId: 'batch' },
      ),
    );
    expect([first.correlationId, second.correlationId, second.causationId]).toEqual([
      'caller-1',
      'caller-2',
      'cmd-2',
    ]);
    const [stored] = await store.readStream(dataSource, 'account-c2');
    expect(stored).toMatchObject({ correlationId: 'caller-2', causationId: 'cmd-2' });
    expect((await store.verifyChain(dataSource)).ok).toBe(true);
  });

  it('records who caused each event: the append context, per command in a batch, else the ambient principal', async () => {
    const finance = {
      subject: 'alice',
      issuer: 'https://idp.example',
      roles: ['finance' as const],
      tenantId: 'acme',
    };
    const [own, ambient] = await runInTransaction(dataSource, (tx) =>
      store.appendToStreams(
        tx,
        [
          {
            streamId: 'account-p1',
            expectedVersion: 0,
            events: [newEvent(AccountOpened, { accountId: 'p1', owner: 'x' }, at)],
            context: { correlationId: 'caller-1', principal: finance },
          },
          {
            streamId: 'account-p2',
            expectedVersion: 0,
            events: [newEvent(AccountOpened, { accountId: 'p2', owner: 'y' }, at)],
          },
        ],
        { correlationId: 'batch' },
      ),
    );
    expect(own.principal).toEqual(finance);
    expect(ambient.principal).toEqual(servicePrincipal('test'));
    const [stored] = await store.readStream(dataSource, 'account-p1');
    expect(stored.principal).toEqual(finance);
    const [row] = await dataSource.query(`SELECT metadata FROM ledger.events WHERE event_id = $1`, [
      own.eventId,
    ]);
    expect(row.metadata.principal).toEqual(finance);
  });

  it('refuses an append that names no principal and writes nothing', async () => {
    const anonymous = new EventStore(SCHEMA, registry);
    const before = await store.headPosition(dataSource);
    await expect(
      runInTransaction(dataSource, (tx) =>
        anonymous.append(
          tx,
          'account-anon',
          0,
          [newEvent(AccountOpened, { accountId: 'anon', owner: 'x' }, at)],
          ctx,
        ),
      ),
    ).rejects.toBeInstanceOf(MissingPrincipalError);
    expect(await store.headPosition(dataSource)).toBe(before);
  });

  it('lets exactly one of two concurrent appends at the same expected version win', async () => {
    await runInTransaction(dataSource, (tx) =>
      store.append(
        tx,
        'account-race',
        0,
        [newEvent(AccountOpened, { accountId: 'race', owner: 'x' }, at)],
        ctx,
      ),
    );
    const attempt = (amountMinor: number) =>
      runInTransaction(dataSource, (tx) =>
        store.append(
          tx,
          'account-race',
          1,
          [newEvent(DepositMade, { accountId: 'race', amountMinor }, at)],
          ctx,
        ),
      );
    const results = await Promise.allSettled([attempt(1), attempt(2)]);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(rejected[0].reason).toBeInstanceOf(WrongExpectedVersionError);
    expect(rejected[0].reason).toMatchObject({
      streamId: 'account-race',
      expectedVersion: 1,
      actualVersion: 2,
    });
    const stream = await store.readStream(dataSource, 'account-race');
    expect(stream).toHaveLength(2);
  });

  it('refuses an event that breaks its contract and writes nothing', async () => {
    const before = await store.headPosition(dataSource);
    await expect(
      runInTransaction(dataSource, (tx) =>
        store.append(
          tx,
          'account-bad',
          0,
          [{ type: 'DepositMade', payload: { accountId: 'b', amountMinor: 1.5 }, occurredAt: at }],
          ctx,
        ),
      ),
    ).rejects.toBeInstanceOf(InvalidEventError);
    expect(await store.headPosition(dataSource)).toBe(before);
    expect(await store.readStream(dataSource, 'account-bad')).toEqual([]);
  });

  it('upcasts events stored under an older schema version when reading them', async () => {
    const oldStore = new EventStore(SCHEMA, new EventRegistry([AccountOpened, DepositMadeV1]), {
      principal: () => servicePrincipal('test'),
    });
    await runInTransaction(dataSource, (tx) =>
      oldStore.append(
        tx,
        'account-old',
        0,
        [newEvent(DepositMadeV1, { accountId: 'old', amount: 12.34 }, at)],
        ctx,
      ),
    );
    const [event] = await store.readStream(dataSource, 'account-old');
    expect(event.schemaVersion).toBe(2);
    expect(event.payload).toEqual({ accountId: 'old', amountMinor: 1234 });
  });

  it('gives a reader following the global position every event exactly once while many writers append', async () => {
    const start = await store.headPosition(dataSource);
    const writers = 12;
    const appendsPerWriter = 15;
    const seen: number[] = [];
    let writing = true;
    const reader = (async () => {
      let position = start;
      while (writing || position < (await store.headPosition(dataSource))) {
        const batch = await store.readAll(dataSource, position, 100);
        for (const event of batch) seen.push(event.globalPosition);
        if (batch.length > 0) position = batch[batch.length - 1].globalPosition;
        else await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < appendsPerWriter; i++) {
          await runInTransaction(dataSource, async (tx) => {
            await store.append(
              tx,
              `gap-${w}-${i}`,
              0,
              [newEvent(AccountOpened, { accountId: `${w}-${i}`, owner: 'o' }, at)],
              ctx,
            );
            // Hold the transaction open a little after appending, so commits interleave with reads.
            await new Promise((r) => setTimeout(r, (w * 7 + i) % 4));
          });
        }
      }),
    );
    writing = false;
    await reader;
    const expected = Array.from({ length: writers * appendsPerWriter }, (_, i) => start + i + 1);
    expect(seen).toEqual(expected);
  });

  it('does not let a reader pass an open transaction, and bounds the stall it causes', async () => {
    const start = await store.headPosition(dataSource);
    const stuck = dataSource.createQueryRunner();
    await stuck.connect();
    await stuck.startTransaction();
    await stuck.query(`SET LOCAL idle_in_transaction_session_timeout = '1500ms'`);
    await store.append(
      stuck,
      'stuck-writer',
      0,
      [newEvent(AccountOpened, { accountId: 'stuck', owner: 'o' }, at)],
      ctx,
    );

    const otherWriters = Array.from({ length: 3 }, (_, i) =>
      runInTransaction(dataSource, (tx) =>
        store.append(
          tx,
          `after-stuck-${i}`,
          0,
          [newEvent(AccountOpened, { accountId: `after-${i}`, owner: 'o' }, at)],
          ctx,
        ),
      ),
    );
    // Writers to other streams do not wait for the stuck one: they commit side by side.
    await Promise.all(otherWriters);
    await new Promise((r) => setTimeout(r, 300));
    // While the stuck writer holds its transaction, nothing after it is visible to readers.
    expect(await store.readAll(dataSource, start, 100)).toEqual([]);

    // The stall readers see is bounded: Postgres ends the idle writer and the horizon moves on.
    const started = Date.now();
    let after = await store.readAll(dataSource, start, 100);
    while (after.length === 0 && Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 50));
      after = await store.readAll(dataSource, start, 100);
    }
    const stalledMs = Date.now() - started;
    expect(stalledMs).toBeLessThan(5000);
    // Postgres ended the idle writer: its event never became visible, the others' did, in order.
    await expect(stuck.commitTransaction()).rejects.toThrow();
    await stuck.release().catch(() => undefined);
    expect(after.map((e) => e.streamId).sort()).toEqual(['after-stuck-0', 'after-stuck-1', 'after-stuck-2']);
    // Its position stays unused (a gap); the others follow it in order.
    const positions = after.map((e) => e.globalPosition);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(positions[0]).toBeGreaterThan(start + 1);
  });

  it('verifies the hash chain and detects one altered event', async () => {
    await new LogSealer(dataSource, store).sealAll();
    const ok = await store.verifyChain(dataSource);
    expect(ok.ok).toBe(true);
    const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM ledger.events`);
    expect(ok.eventsChecked).toBe(n);
    expect(ok.pending).toBe(0);

    await expect(
      dataSource.query(`UPDATE ledger.events SET payload = '{}' WHERE global_position = 2`),
    ).rejects.toThrow(/append-only/);
    await runInTransaction(dataSource, async (tx) => {
      await tx.query(`SET LOCAL fleetledger.allow_event_rewrite = 'on'`);
      await tx.query(
        `UPDATE ledger.events SET payload = jsonb_set(payload, '{amountMinor}', '50000') WHERE global_position = 2`,
      );
    });
    const broken = await store.verifyChain(dataSource);
    expect(broken.ok).toBe(false);
    expect(broken.firstBreak).toMatchObject({ kind: 'hash-mismatch', globalPosition: 2 });
    expect(broken.eventsChecked).toBe(1);
  });
});

describe('EventStore principals under the hash chain', () => {
  it('detects a rewritten principal (the chain covers who caused each event)', async () => {
    const db = await TestDatabase.create();
    const dataSource = await db.dataSource(migrations, 5);
    try {
      const store = new EventStore(SCHEMA, registry, { principal: () => servicePrincipal('test') });
      await runInTransaction(dataSource, (tx) =>
        store.append(tx, 'account-f', 0, [newEvent(AccountOpened, { accountId: 'f', owner: 'x' }, at)], {
          correlationId: 'c',
          principal: { subject: 'mallory', issuer: 'https://idp.example', roles: ['operator'] },
        }),
      );
      await new LogSealer(dataSource, store).sealAll();
      expect((await store.verifyChain(dataSource)).ok).toBe(true);
      await runInTransaction(dataSource, async (tx) => {
        await tx.query(`SET LOCAL fleetledger.allow_event_rewrite = 'on'`);
        await tx.query(
          `UPDATE ledger.events SET metadata = jsonb_set(metadata, '{principal,subject}', '"alice"') WHERE global_position = 1`,
        );
      });
      expect((await store.verifyChain(dataSource)).firstBreak).toMatchObject({
        kind: 'hash-mismatch',
        globalPosition: 1,
      });
    } finally {
      await dataSource.destroy();
      await db.drop();
    }
  });
});
