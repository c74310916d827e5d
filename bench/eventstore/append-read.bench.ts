// Event-store benchmark: appends/s (one stream, many streams, batched) and reads/s by global position,
// on the real PostgreSQL (DATABASE_URL, default the local server). Prints figures; asserts nothing.
//   npm run bench:eventstore [-- --events 20000]
//   npm run bench:eventstore -- --vs emmett [--scale 0.1]   side by side with Emmett (vs-emmett.bench.ts)
import 'reflect-metadata';
import { z } from 'zod';
import { defineEvent, EventRegistry, newEvent, servicePrincipal } from '@fleetledger/contracts';
import { EventStore, eventStoreMigrations, LogSealer, runInTransaction } from '@fleetledger/eventstore';
import { TestDatabase } from '@fleetledger/testing';

const Sampled = defineEvent({
  type: 'BenchSampled',
  schema: z.object({ gpuId: z.string(), utilization: z.number(), powerW: z.number().int() }),
});
// A larger payload with the characters that cost most to escape (quotes, backslashes, non-ASCII).
const Noted = defineEvent({
  type: 'BenchNoted',
  schema: z.object({
    gpuId: z.string(),
    note: z.string(),
    tags: z.array(z.array(z.string())),
    readings: z.array(z.object({ at: z.string(), value: z.number(), unit: z.string() })),
  }),
});
const store = new EventStore('bench', new EventRegistry([Sampled, Noted]), {
  principal: () => servicePrincipal('bench'),
});
const argEvents = process.argv.indexOf('--events');
const N = argEvents > 0 ? Number(process.argv[argEvents + 1]) : 10_000;
const at = '2026-11-01T00:00:00Z';
const event = (i: number) => newEvent(Sampled, { gpuId: `gpu-${i}`, utilization: 0.5, powerW: 700 }, at);
const noted = (i: number) =>
  newEvent(
    Noted,
    {
      gpuId: `gpu-${i}`,
      note: `operator said "rack C:\\fans\\${i}" — température élevée, 温度 ✓ `.repeat(4),
      tags: [['zone', 'eu-west'], ['pool', `p-${i % 7}`], []],
      readings: Array.from({ length: 6 }, (_, k) => ({ at, value: k * 0.25 + i, unit: 'W' })),
    },
    at,
  );

function report(name: string, count: number, ms: number) {
  process.stdout.write(
    `${name.padEnd(58)} ${String(count).padStart(8)} events  ${(count / (ms / 1000)).toFixed(0).padStart(8)} /s\n`,
  );
}

async function main() {
  process.env.TEST_ADMIN_DATABASE_URL ??=
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const db = await TestDatabase.create('fl_bench');
  const dataSource = await db.dataSource(eventStoreMigrations('bench', 1764000000000), 16);
  try {
    const ctx = { correlationId: 'bench', topic: 'bench.events.v1' };
    let t = Date.now();
    const single = Math.min(N, 3000);
    for (let i = 0; i < single; i++) {
      await runInTransaction(dataSource, (tx) => store.append(tx, 'one-stream', i, [event(i)], ctx));
    }
    report('append, one stream, 1 event/transaction', single, Date.now() - t);

    t = Date.now();
    const writers = 8;
    const perWriter = Math.floor(single / writers);
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          await runInTransaction(dataSource, (tx) =>
            store.append(tx, `stream-${w}-${i}`, 0, [event(i)], ctx),
          );
        }
      }),
    );
    report(`append, ${writers} writers x many streams, 1 event/tx`, writers * perWriter, Date.now() - t);

    t = Date.now();
    const batch = 500;
    for (let done = 0; done < N; done += batch) {
      await runInTransaction(dataSource, (tx) =>
        store.appendToStreams(
          tx,
          Array.from({ length: batch / 5 }, (_, s) => ({
            streamId: `batch-${done}-${s}`,
            expectedVersion: 0,
            events: Array.from({ length: 5 }, (_, k) => event(done + s * 5 + k)),
          })),
          ctx,
        ),
      );
    }
    report(`append, batches of ${batch} events over 100 streams`, N, Date.now() - t);

    t = Date.now();
    const large = 2000;
    for (let done = 0; done < N; done += large) {
      await runInTransaction(dataSource, (tx) =>
        store.appendToStreams(
          tx,
          Array.from({ length: large / 20 }, (_, s) => ({
            streamId: `noted-${done}-${s}`,
            expectedVersion: 0,
            events: Array.from({ length: 20 }, (_, k) => noted(done + s * 20 + k)),
          })),
          ctx,
        ),
      );
    }
    report(`append, batches of ${large} ~1 KiB events (quotes, unicode)`, N, Date.now() - t);

    const total = await store.headPosition(dataSource);
    t = Date.now();
    await store.awaitHorizon(dataSource, total);
    let position = 0;
    let read = 0;
    for (;;) {
      const events = await store.readAll(dataSource, position, 2000);
      if (events.length === 0) break;
      read += events.length;
      position = events[events.length - 1].globalPosition;
    }
    report('read all by global position (pages of 2000)', read, Date.now() - t);

    t = Date.now();
    const sealed = await new LogSealer(dataSource, store).sealAll();
    report('seal: link the log into the hash chain (behind the writers)', sealed, Date.now() - t);

    t = Date.now();
    const verification = await store.verifyChain(dataSource);
    report(`verify hash chain (ok=${verification.ok})`, verification.eventsChecked, Date.now() - t);
    process.stdout.write(`log head position ${total}\n`);
  } finally {
    await dataSource.destroy();
    await db.drop();
  }
}

const vs = process.argv.indexOf('--vs');
if (vs > 0 && process.argv[vs + 1] !== 'emmett') {
  process.stderr.write(`--vs ${process.argv[vs + 1]}: the only peer is emmett\n`);
  process.exit(2);
}
(vs > 0 ? import('./vs-emmett.bench').then(({ benchVsEmmett }) => benchVsEmmett()) : main()).catch(
  (error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  },
);
