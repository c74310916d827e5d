import { z } from 'zod';
import { DataSource } from 'typeorm';
import {
  defineEvent,
  EventEnvelope,
  EventRegistry,
  newEvent,
  servicePrincipal,
} from '@fleetledger/contracts';
import { EventStore, headersFor, LogSealer, OutboxRelay, runInTransaction } from '@fleetledger/eventstore';
import { TestDatabase } from '@fleetledger/testing';
import { migrations, SCHEMA } from './fixtures';

/** Any JSON at all, so the payloads below reach the store unchanged. */
const Noted = defineEvent({ type: 'Noted', schema: z.unknown() });
const registry = new EventRegistry([Noted]);

const longText = `"\\ é 温度 😀 ${'x'.repeat(50)}\n`.repeat(20_000); // ~1.4 MB, several array-literal specials
const awkward: unknown[] = [
  {
    quotes: 'she said "hi" and \'bye\'',
    backslashes: 'C:\\fans\\rack "C"\\',
    arrayLiteralSpecials: '{a,b},"NULL",NULL,{}',
    unicode: 'température — 温度 ✓ 😀 \u200b\u2028\u2029 \u0301e عربى',
    controls: 'tab\tnewline\ncr\r\u0001\u001f',
    emptyString: '',
    numberLike: ['1e3', '-0', '007', '12345678901234567890123'],
    numbers: [0, -1, 1.5, 0.1 + 0.2, 1e21, 5e-324, Number.MAX_SAFE_INTEGER],
    booleans: [true, false],
    nulls: [null, [null], { n: null }],
    emptyObject: {},
    emptyArray: [],
    nested: [[[]], [[1, '1'], [{}]], [[[['deep']]]]],
    'key "with" \\ quotes': { 'ключ.с.точками': 'v' },
  },
  { text: longText },
  null,
  'a bare "string" payload',
  42,
  [],
  {},
];

describe('EventStore append keeps awkward payloads exactly', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  const store = new EventStore(SCHEMA, registry, {
    principal: () => servicePrincipal('test'),
  });

  beforeAll(async () => {
    db = await TestDatabase.create();
    dataSource = await db.dataSource(migrations);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('stores payloads, metadata and outbox messages as the old per-row jsonb encoding did, and the chain verifies', async () => {
    const streams = ['plain', 'odd "stream" \\ id é', 'third'];
    const occurredAt = '2026-11-01T10:20:30.456Z';
    const appended: EventEnvelope[] = await runInTransaction(dataSource, async (tx) => {
      // A first append so the batch below chains onto an existing head and an existing stream.
      await store.append(tx, 'plain', 0, [newEvent(Noted, { first: true }, occurredAt)], {
        correlationId: 'c0',
      });
      return store.appendToStreams(
        tx,
        streams.map((streamId, s) => ({
          streamId,
          expectedVersion: s === 0 ? 1 : 0,
          events: awkward.map((payload) => newEvent(Noted, payload, occurredAt)),
          context: { correlationId: `corr "${s}" \\`, causationId: s === 1 ? 'cause é' : undefined },
        })),
        {
          correlationId: 'batch',
          tenantId: 'tenant 😀',
          topic: 'ledger.events.v1',
          metadata: { note: 'meta "quoted" \\ 温度', nested: [[], {}], count: 3 },
        },
      );
    });
    expect(appended).toHaveLength(streams.length * awkward.length);
    expect(appended.map((e) => e.globalPosition)).toEqual(appended.map((_, i) => i + 2));
    expect(appended.map((e) => [e.streamId, e.streamVersion])).toEqual(
      streams.flatMap((streamId, s) => awkward.map((_, k) => [streamId, k + 1 + (s === 0 ? 1 : 0)])),
    );

    // Oracle: each value sent on its own as `$n::jsonb[]` elements (the encoding used before), compared
    // with what is stored, both as jsonb and as jsonb's text output (stricter: 1 vs 1.0, types).
    const differing = await dataSource.query(
      `SELECT e.global_position
         FROM ledger.events e
         JOIN unnest($1::bigint[], $2::jsonb[], $3::jsonb[], $4::text[], $5::timestamptz[])
              AS x(position, payload, metadata, stream_id, recorded_at)
           ON x.position = e.global_position
        WHERE e.payload IS DISTINCT FROM x.payload OR e.payload::text <> x.payload::text
           OR e.metadata IS DISTINCT FROM x.metadata OR e.metadata::text <> x.metadata::text
           OR e.stream_id <> x.stream_id OR e.recorded_at <> x.recorded_at
           OR e.occurred_at <> $6::timestamptz`,
      [
        appended.map((e) => e.globalPosition),
        appended.map((e) => JSON.stringify(e.payload)),
        appended.map((e) =>
          JSON.stringify({
            note: 'meta "quoted" \\ 温度',
            nested: [[], {}],
            count: 3,
            correlationId: e.correlationId,
            causationId: e.causationId,
            tenantId: 'tenant 😀',
            principal: e.principal,
          }),
        ),
        appended.map((e) => e.streamId),
        appended.map((e) => e.recordedAt),
        occurredAt,
      ],
    );
    expect(differing).toEqual([]);

    const types = await dataSource.query(
      `SELECT jsonb_typeof(payload) AS payload, jsonb_typeof(payload->'numbers'->4) AS number,
              length(payload->>'text') AS text_length
         FROM ledger.events WHERE global_position > 1 ORDER BY global_position LIMIT $1`,
      [awkward.length],
    );
    expect(types).toEqual([
      { payload: 'object', number: 'number', text_length: null },
      { payload: 'object', number: null, text_length: [...longText].length },
      { payload: 'null', number: null, text_length: null },
      { payload: 'string', number: null, text_length: null },
      { payload: 'number', number: null, text_length: null },
      { payload: 'array', number: null, text_length: null },
      { payload: 'object', number: null, text_length: null },
    ]);
    const [bigString] = await dataSource.query(
      `SELECT jsonb_typeof(payload->'numberLike'->3) AS type, payload->'numberLike'->>3 AS value
         FROM ledger.events WHERE global_position = 2`,
    );
    expect(bigString).toEqual({ type: 'string', value: '12345678901234567890123' });

    for (const streamId of streams) {
      const read = await store.readStream(dataSource, streamId);
      const mine = appended.filter((e) => e.streamId === streamId);
      expect(read.slice(-awkward.length)).toEqual(mine);
      expect(mine.map((e) => e.payload)).toEqual(awkward);
    }

    // The outbox: one compact row per event, in log order; the relay sends the envelope read back from the
    // event row, with the headers as before.
    const outbox = await dataSource.query(
      `SELECT global_position, topic, message_key, message FROM ledger.outbox ORDER BY id`,
    );
    expect(outbox).toEqual(
      appended.map((e) => ({
        global_position: String(e.globalPosition),
        topic: 'ledger.events.v1',
        message_key: e.streamId,
        message: null,
      })),
    );
    const sent: { message: unknown; headers: unknown }[] = [];
    class CapturingRelay extends OutboxRelay {
      protected override async publish(rows: { message: unknown; headers: unknown }[]): Promise<void> {
        sent.push(...rows.map((r) => ({ message: r.message, headers: r.headers })));
      }
    }
    await new CapturingRelay(dataSource, undefined as never, { schema: 'ledger' }).drain();
    expect(sent).toEqual(appended.map((e) => ({ message: e, headers: headersFor(e) })));

    await new LogSealer(dataSource, store).sealAll();
    const chain = await store.verifyChain(dataSource);
    expect(chain).toMatchObject({ ok: true, eventsChecked: 1 + appended.length, pending: 0 });
    const [head] = await dataSource.query(`SELECT global_position, hash FROM ledger.log_head`);
    const [last] = await dataSource.query(
      `SELECT global_position, hash FROM ledger.event_chain ORDER BY global_position DESC LIMIT 1`,
    );
    expect(head).toEqual({ global_position: String(1 + appended.length), hash: last.hash });
    expect(chain.lastHash).toBe(last.hash);
  });
});
