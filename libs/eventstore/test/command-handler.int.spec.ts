import { DataSource } from 'typeorm';
import { newEvent, servicePrincipal } from '@fleetledger/contracts';
import {
  CommandTarget,
  Decider,
  EventStore,
  handleCommand,
  LoadedState,
  Queryable,
  runInTransaction,
  WrongExpectedVersionError,
} from '@fleetledger/eventstore';
import { TestDatabase } from '@fleetledger/testing';
import { AccountOpened, balancesProjection, DepositMade, migrations, registry, SCHEMA } from './fixtures';

const at = '2026-11-01T00:00:00.000Z';

type AccountEvent =
  | { type: 'AccountOpened'; payload: { accountId: string; owner: string } }
  | { type: 'DepositMade'; payload: { accountId: string; amountMinor: number } };
type AccountCommand =
  | { kind: 'open'; accountId: string; owner: string }
  | { kind: 'deposit'; accountId: string; amountMinor: number };
interface Account {
  open: boolean;
  balanceMinor: number;
}

/** A bank account as a decider: the handler's tests need rules that depend on the stream's state. */
const accountDecider: Decider<Account, AccountCommand, AccountEvent, 'not-open' | 'already-open'> = {
  initialState: () => ({ open: false, balanceMinor: 0 }),
  evolve: (state, event) =>
    event.type === 'AccountOpened'
      ? { ...state, open: true }
      : { ...state, balanceMinor: state.balanceMinor + event.payload.amountMinor },
  decide: (state, command) => {
    if (command.kind === 'open')
      return state.open
        ? { kind: 'rejected', reason: 'already-open', detail: `${command.accountId} is open` }
        : [{ type: 'AccountOpened', payload: { accountId: command.accountId, owner: command.owner } }];
    if (!state.open)
      return { kind: 'rejected', reason: 'not-open', detail: `${command.accountId} was never opened` };
    return [
      { type: 'DepositMade', payload: { accountId: command.accountId, amountMinor: command.amountMinor } },
    ];
  },
};

/** Several accounts, one stream each: a transfer is a rule over two streams (the payer's balance). */
type Transfer = { kind: 'transfer'; from: string; to: string; amountMinor: number };
const ledgerDecider: Decider<Map<string, number>, Transfer, AccountEvent, 'insufficient-funds'> = {
  initialState: () => new Map(),
  evolve: (balances, event) =>
    event.type === 'AccountOpened'
      ? new Map(balances).set(event.payload.accountId, 0)
      : new Map(balances).set(
          event.payload.accountId,
          (balances.get(event.payload.accountId) ?? 0) + event.payload.amountMinor,
        ),
  decide: (balances, { from, to, amountMinor }) =>
    (balances.get(from) ?? 0) < amountMinor
      ? { kind: 'rejected', reason: 'insufficient-funds', detail: `${from} holds ${balances.get(from) ?? 0}` }
      : [
          { type: 'DepositMade', payload: { accountId: from, amountMinor: -amountMinor } },
          { type: 'DepositMade', payload: { accountId: to, amountMinor } },
        ],
};

describe('handleCommand on PostgreSQL', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let store: EventStore;
  let target: CommandTarget;

  beforeAll(async () => {
    db = await TestDatabase.create();
    dataSource = await db.dataSource(migrations, 30);
    store = new EventStore(SCHEMA, registry, { principal: () => servicePrincipal('test') });
    target = { dataSource, store, projections: [balancesProjection] };
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const balance = async (accountId: string) =>
    (
      await dataSource.query(`SELECT balance_minor FROM ledger.balances WHERE account_id = $1`, [accountId])
    )[0]?.balance_minor;

  /** Another writer appends to the stream between our load and our append, `times` times. */
  function racingLoader(streamId: string, times: number) {
    let loads = 0;
    const load = async (tx: Queryable): Promise<LoadedState<Account>> => {
      const stored = await store.readStream(tx, streamId);
      let state = accountDecider.initialState();
      for (const e of stored) state = accountDecider.evolve(state, e as unknown as AccountEvent);
      const version = stored.at(-1)?.streamVersion ?? 0;
      loads += 1;
      if (loads <= times)
        await runInTransaction(dataSource, (other) =>
          store.append(
            other,
            streamId,
            version,
            [newEvent(DepositMade, { accountId: streamId, amountMinor: 1 }, at)],
            {
              correlationId: 'racing-writer',
            },
          ),
        );
      return { state, expectedVersion: () => version };
    };
    return { load, loads: () => loads };
  }

  it('appends the decided events with the stream version and updates the inline projection in the same transaction', async () => {
    const opened = await handleCommand(
      target,
      accountDecider,
      { kind: 'open', accountId: 'a1', owner: 'lab' },
      {
        streamOf: 'a1',
        context: { correlationId: 'c1', occurredAt: at },
      },
    );
    const deposited = await handleCommand(
      target,
      accountDecider,
      { kind: 'deposit', accountId: 'a1', amountMinor: 250 },
      { streamOf: 'a1', context: { correlationId: 'c2', occurredAt: at } },
    );
    expect(opened.kind).toBe('accepted');
    expect(deposited).toEqual({
      kind: 'accepted',
      events: [
        expect.objectContaining({
          type: 'DepositMade',
          streamId: 'a1',
          streamVersion: 2,
          correlationId: 'c2',
        }),
      ],
    });
    expect(await balance('a1')).toBe('250');
  });

  it('a rejection is returned with its reason and writes nothing', async () => {
    const before = await store.headPosition(dataSource);
    const result = await handleCommand(
      target,
      accountDecider,
      { kind: 'deposit', accountId: 'ghost', amountMinor: 5 },
      { streamOf: 'ghost', context: { correlationId: 'c3', occurredAt: at } },
    );
    expect(result).toEqual({
      kind: 'rejected',
      rejection: { kind: 'rejected', reason: 'not-open', detail: 'ghost was never opened' },
    });
    expect(await store.headPosition(dataSource)).toBe(before);
  });

  it('a version conflict is retried from the load: the command is decided again on the state the other writer left', async () => {
    await handleCommand(
      target,
      accountDecider,
      { kind: 'open', accountId: 'a2', owner: 'lab' },
      {
        streamOf: 'a2',
        context: { correlationId: 'c4', occurredAt: at },
      },
    );
    const racing = racingLoader('a2', 1);
    const result = await handleCommand(
      target,
      accountDecider,
      { kind: 'deposit', accountId: 'a2', amountMinor: 100 },
      { streamOf: 'a2', load: racing.load, context: { correlationId: 'c5', occurredAt: at } },
    );
    expect(racing.loads()).toBe(2);
    // open (1), the racing deposit (2), ours (3)
    expect(result).toEqual({
      kind: 'accepted',
      events: [expect.objectContaining({ type: 'DepositMade', streamVersion: 3 })],
    });
  });

  it('a decision over two streams reads both and expects both versions (streams option)', async () => {
    for (const accountId of ['t1', 't2'])
      await handleCommand(
        target,
        accountDecider,
        { kind: 'open', accountId, owner: 'lab' },
        {
          streamOf: accountId,
          context: { correlationId: 'open', occurredAt: at },
        },
      );
    await handleCommand(
      target,
      accountDecider,
      { kind: 'deposit', accountId: 't1', amountMinor: 100 },
      {
        streamOf: 't1',
        context: { correlationId: 'fund', occurredAt: at },
      },
    );
    const options = {
      streamOf: (event: AccountEvent) => event.payload.accountId,
      streams: (commands: readonly Transfer[]) => commands.flatMap((c) => [c.from, c.to]),
      context: { correlationId: 'transfer', occurredAt: at },
    };
    const moved = await handleCommand(
      target,
      ledgerDecider,
      { kind: 'transfer', from: 't1', to: 't2', amountMinor: 60 },
      options,
    );
    expect(moved.kind === 'accepted' && moved.events.map((e) => [e.streamId, e.streamVersion])).toEqual([
      ['t1', 3],
      ['t2', 2],
    ]);
    // t1 now holds 40: the rule reads the stream as the transfer left it.
    const refused = await handleCommand(
      target,
      ledgerDecider,
      { kind: 'transfer', from: 't1', to: 't2', amountMinor: 60 },
      options,
    );
    expect(refused).toEqual({
      kind: 'rejected',
      rejection: { kind: 'rejected', reason: 'insufficient-funds', detail: 't1 holds 40' },
    });
    expect([await balance('t1'), await balance('t2')]).toEqual(['40', '60']);
  });

  it('after the bounded retries the conflict reaches the caller and nothing of the command is written', async () => {
    await handleCommand(
      target,
      accountDecider,
      { kind: 'open', accountId: 'a3', owner: 'lab' },
      {
        streamOf: 'a3',
        context: { correlationId: 'c6', occurredAt: at },
      },
    );
    const racing = racingLoader('a3', Infinity);
    await expect(
      handleCommand(
        target,
        accountDecider,
        { kind: 'deposit', accountId: 'a3', amountMinor: 100 },
        { streamOf: 'a3', load: racing.load, retries: 2, context: { correlationId: 'c7', occurredAt: at } },
      ),
    ).rejects.toBeInstanceOf(WrongExpectedVersionError);
    expect(racing.loads()).toBe(3);
    const events = await store.readStream(dataSource, 'a3');
    expect(events.map((e) => e.correlationId)).toEqual([
      'c6',
      'racing-writer',
      'racing-writer',
      'racing-writer',
    ]);
  });
});

// Keeps the fixture's v2 event in use here too (the decided payload is validated against it on append).
void AccountOpened;
