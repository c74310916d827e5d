import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { newEvent, servicePrincipal } from '@fleetledger/contracts';
import { EventStore, LogSealer, Queryable, runInTransaction } from '@fleetledger/eventstore';
import { TestDatabase } from '@fleetledger/testing';
import { AccountOpened, DepositMade, migrations, registry, SCHEMA } from './fixtures';

const at = '2026-11-01T00:00:00.000Z';
const ctx = { correlationId: 'concurrent' };

/** Concurrent appends (issue #19): writers share commits, the horizon keeps readers honest, the sealer chains. */
describe('EventStore with concurrent writers and the sealer', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let store: EventStore;

  beforeAll(async () => {
    db = await TestDatabase.create();
    dataSource = await db.dataSource(migrations, 40);
    store = new EventStore(SCHEMA, registry, { principal: () => servicePrincipal('test') });
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('16 concurrent writers and a follower: every event seen exactly once, in position order, while the sealer runs', async () => {
    const sealer = new LogSealer(dataSource, store, { idleDelayMs: 5, batchSize: 50 });
    sealer.start();
    const start = await store.headPosition(dataSource);
    const writers = 16;
    const appendsPerWriter = 12;
    const seen: { position: number; eventId: string }[] = [];
    let writing = true;
    const follower = (async () => {
      let position = start;
      for (;;) {
        const batch = await store.readAll(dataSource, position, 37);
        for (const event of batch) seen.push({ position: event.globalPosition, eventId: event.eventId });
        if (batch.length > 0) position = batch[batch.length - 1].globalPosition;
        else if (!writing && position >= (await store.headPosition(dataSource))) return;
        else await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const appended: string[] = [];
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < appendsPerWriter; i++) {
          const events = await runInTransaction(dataSource, async (tx) => {
            const written = await store.append(
              tx,
              `writer-${w}-${i}`,
              0,
              Array.from({ length: 1 + ((w + i) % 3) }, (_, k) =>
                newEvent(DepositMade, { accountId: `${w}-${i}`, amountMinor: k }, at),
              ),
              ctx,
            );
            // Some transactions stay open a little after appending, so commits land out of position order.
            await new Promise((r) => setTimeout(r, (w * 5 + i) % 4));
            return written;
          });
          appended.push(...events.map((e) => e.eventId));
        }
      }),
    );
    writing = false;
    await follower;
    await sealer.stop();

    expect(seen.map((s) => s.eventId).sort()).toEqual([...appended].sort());
    expect(new Set(seen.map((s) => s.eventId)).size).toBe(seen.length);
    const positions = seen.map((s) => s.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));

    await new LogSealer(dataSource, store).sealAll();
    const chain = await store.verifyChain(dataSource);
    expect(chain).toMatchObject({ ok: true, pending: 0 });
    expect(chain.eventsChecked).toBeGreaterThanOrEqual(appended.length);
  });

  it('one batch may append to a stream twice: the second append is checked against the first', async () => {
    const appended = await runInTransaction(dataSource, (tx) =>
      store.appendToStreams(
        tx,
        [
          {
            streamId: 'twice',
            expectedVersion: 0,
            events: [newEvent(AccountOpened, { accountId: 't', owner: 'o' }, at)],
          },
          {
            streamId: 'other',
            expectedVersion: 0,
            events: [newEvent(AccountOpened, { accountId: 'u', owner: 'o' }, at)],
          },
          {
            streamId: 'twice',
            expectedVersion: 1,
            events: [newEvent(DepositMade, { accountId: 't', amountMinor: 1 }, at)],
          },
        ],
        ctx,
      ),
    );
    expect(appended.map((e) => [e.streamId, e.streamVersion])).toEqual([
      ['twice', 1],
      ['other', 1],
      ['twice', 2],
    ]);
    await expect(
      runInTransaction(dataSource, (tx) =>
        store.appendToStreams(
          tx,
          [
            {
              streamId: 'twice',
              expectedVersion: 2,
              events: [newEvent(DepositMade, { accountId: 't', amountMinor: 2 }, at)],
            },
            {
              streamId: 'twice',
              expectedVersion: 2,
              events: [newEvent(DepositMade, { accountId: 't', amountMinor: 3 }, at)],
            },
          ],
          ctx,
        ),
      ),
    ).rejects.toMatchObject({
      code: 'wrong-expected-version',
      streamId: 'twice',
      expectedVersion: 2,
      actualVersion: 3,
    });
    expect(await store.streamVersion(dataSource, 'twice')).toBe(2);
  });

  it('a long transaction that is not a writer of this log does not hold its readers back', async () => {
    const bystander = dataSource.createQueryRunner();
    await bystander.connect();
    try {
      await bystander.startTransaction();
      // It has a transaction id (it wrote something) and stays open: the cluster's xmin stays behind it.
      await bystander.query(`SELECT pg_current_xact_id()`);
      const [event] = await runInTransaction(dataSource, (tx) =>
        store.append(
          tx,
          'past-bystander',
          0,
          [newEvent(AccountOpened, { accountId: 'b', owner: 'o' }, at)],
          ctx,
        ),
      );
      const started = Date.now();
      await store.awaitHorizon(dataSource, event.globalPosition, 5000);
      expect(Date.now() - started).toBeLessThan(5000);
      const read = await store.readAll(dataSource, event.globalPosition - 1, 10);
      expect(read.map((e) => e.eventId)).toContain(event.eventId);
    } finally {
      await bystander.rollbackTransaction().catch(() => undefined);
      await bystander.release();
    }
  });

  it('a sealer killed in the middle of a batch loses nothing: the next one resumes and the chain verifies', async () => {
    const killed = await runInTransaction(dataSource, (tx) =>
      store.append(
        tx,
        'killed-sealer',
        0,
        Array.from({ length: 40 }, (_, k) => newEvent(DepositMade, { accountId: 'k', amountMinor: k }, at)),
        ctx,
      ),
    );
    await store.awaitHorizon(dataSource, killed[killed.length - 1].globalPosition);
    const [before] = await dataSource.query(`SELECT global_position FROM ledger.log_head`);

    // A sealer links a batch and dies before its commit (its connection is cut).
    const victim = new Client({ connectionString: db.url });
    victim.on('error', () => undefined);
    await victim.connect();
    await victim.query('BEGIN');
    const onVictim: Queryable = {
      query: async <T>(sql: string, params?: unknown[]) => (await victim.query(sql, params)).rows as T,
    };
    const sealed = await store.sealBatch(onVictim, 15);
    expect(sealed).toBe(15);
    const pid = (await victim.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
    await dataSource.query(`SELECT pg_terminate_backend($1)`, [pid]);
    await victim.end().catch(() => undefined);

    const [after] = await dataSource.query(`SELECT global_position FROM ledger.log_head`);
    expect(after.global_position).toBe(before.global_position);

    expect(await new LogSealer(dataSource, store, { batchSize: 7 }).sealAll()).toBeGreaterThanOrEqual(40);
    const chain = await store.verifyChain(dataSource);
    expect(chain).toMatchObject({ ok: true, pending: 0 });
  });

  it('verify tells events not yet sealed (pending) from a broken chain', async () => {
    const appended = await runInTransaction(dataSource, (tx) =>
      store.append(
        tx,
        'account-pending',
        0,
        [
          newEvent(AccountOpened, { accountId: 'p', owner: 'o' }, at),
          newEvent(DepositMade, { accountId: 'p', amountMinor: 7 }, at),
          newEvent(DepositMade, { accountId: 'p', amountMinor: 8 }, at),
        ],
        ctx,
      ),
    );
    await store.awaitHorizon(dataSource, appended[appended.length - 1].globalPosition);
    // Seal all but the last two.
    const [{ n }] = await dataSource.query(
      `SELECT count(*)::int AS n FROM ledger.events WHERE global_position > (SELECT global_position FROM ledger.log_head)`,
    );
    await runInTransaction(dataSource, (tx) => store.sealBatch(tx, n - 2));

    const pending = await store.verifyChain(dataSource);
    expect(pending).toMatchObject({ ok: true, pending: 2, sealedPosition: appended[0].globalPosition });
    expect(pending.firstBreak).toBeUndefined();

    // Altering a sealed event is a break, not pending.
    await runInTransaction(dataSource, async (tx) => {
      await tx.query(`SET LOCAL fleetledger.allow_event_rewrite = 'on'`);
      await tx.query(
        `UPDATE ledger.events SET payload = jsonb_set(payload, '{owner}', '"mallory"') WHERE global_position = $1`,
        [appended[0].globalPosition],
      );
    });
    const broken = await store.verifyChain(dataSource);
    expect(broken.ok).toBe(false);
    expect(broken.firstBreak).toMatchObject({
      kind: 'hash-mismatch',
      globalPosition: appended[0].globalPosition,
    });
    expect(broken.pending).toBe(2);

    // Put it back: the chain verifies again (the remaining tests build on it).
    await runInTransaction(dataSource, async (tx) => {
      await tx.query(`SET LOCAL fleetledger.allow_event_rewrite = 'on'`);
      await tx.query(
        `UPDATE ledger.events SET payload = jsonb_set(payload, '{owner}', '"o"') WHERE global_position = $1`,
        [appended[0].globalPosition],
      );
    });
    expect((await store.verifyChain(dataSource)).ok).toBe(true);
  });

  it('an event slipped in behind the sealed head is reported as a missing link', async () => {
    // A rolled-back append leaves its position unused: a gap inside what gets sealed.
    let burned = 0;
    await runInTransaction(dataSource, async (tx) => {
      const [event] = await store.append(
        tx,
        'rolled-back',
        0,
        [newEvent(AccountOpened, { accountId: 'r', owner: 'o' }, at)],
        ctx,
      );
      burned = event.globalPosition;
      throw new Error('roll back');
    }).catch(() => undefined);
    expect(burned).toBeGreaterThan(0);
    const [afterGap] = await runInTransaction(dataSource, (tx) =>
      store.append(tx, 'after-gap', 0, [newEvent(AccountOpened, { accountId: 'g', owner: 'o' }, at)], ctx),
    );
    await store.awaitHorizon(dataSource, afterGap.globalPosition);
    await new LogSealer(dataSource, store).sealAll();
    expect((await store.verifyChain(dataSource)).ok).toBe(true);
    // Somebody with the rights to bypass append_events writes into the gap, below the sealed head.
    await dataSource.query(
      `INSERT INTO ledger.events (global_position, event_id, stream_id, stream_version, type, schema_version, payload, metadata, occurred_at, recorded_at)
       VALUES ($1, gen_random_uuid(), 'forged', 1, 'AccountOpened', 1, '{"accountId":"x","owner":"y"}', '{"correlationId":"x"}', now(), now())`,
      [burned],
    );
    const forged = await store.verifyChain(dataSource);
    expect(forged.ok).toBe(false);
    expect(forged.firstBreak).toMatchObject({ kind: 'missing-link' });
  });
});
