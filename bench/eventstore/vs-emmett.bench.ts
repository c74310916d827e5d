// FleetLedger's event store side by side with Emmett's PostgreSQL event store
// (@event-driven-io/emmett-postgresql, a devDependency pinned to 0.42.0), on fresh databases of the same server.
// Each repetition creates three databases (FleetLedger with an outbox topic, FleetLedger without, Emmett), then
// runs every case on all three, rotating which goes first; the table shows the median of the repetitions.
//   npm run bench:eventstore -- --vs emmett [--scale 0.1] [--repetitions 3]
// Prints figures; asserts nothing.
import 'reflect-metadata';
import { z } from 'zod';
import { defineEvent, EventRegistry, newEvent, servicePrincipal } from '@fleetledger/contracts';
import { EventStore, eventStoreMigrations, runInTransaction } from '@fleetledger/eventstore';
import { TestDatabase } from '@fleetledger/testing';
import type { DataSource } from 'typeorm';

const Sampled = defineEvent({
  type: 'BenchSampled',
  schema: z.object({ gpuId: z.string(), utilization: z.number(), powerW: z.number().int() }),
});
const at = '2026-11-01T00:00:00Z';
const sample = (i: number) => ({ gpuId: `gpu-${i}`, utilization: 0.5, powerW: 700 });

/** One store under test: append `count` events to a stream expected at `expectedVersion`, and read all. */
interface Contender {
  name: string;
  append(streamId: string, expectedVersion: number, first: number, count: number): Promise<void>;
  /** Reads the whole log in order, pages of `page`; returns how many events it read. */
  readAll(page: number): Promise<number>;
  close(): Promise<void>;
}

async function fleetLedger(name: string, topic: string | undefined): Promise<Contender> {
  const store = new EventStore('bench', new EventRegistry([Sampled]), {
    principal: () => servicePrincipal('bench'),
  });
  const db = await TestDatabase.create('fl_bench_vs');
  const dataSource: DataSource = await db.dataSource(eventStoreMigrations('bench', 1764000000000), 16);
  const ctx = { correlationId: 'bench', ...(topic ? { topic } : {}) };
  return {
    name,
    append: async (streamId, expectedVersion, first, count) => {
      const events = Array.from({ length: count }, (_, k) => newEvent(Sampled, sample(first + k), at));
      await runInTransaction(dataSource, (tx) => store.append(tx, streamId, expectedVersion, events, ctx));
    },
    readAll: async (page) => {
      let position = 0;
      let read = 0;
      // Everything written so far is committed: wait until readers may see it (the horizon; issue #19).
      await store.awaitHorizon(dataSource, await store.headPosition(dataSource));
      for (;;) {
        const events = await store.readAll(dataSource, position, page);
        if (events.length === 0) return read;
        read += events.length;
        position = events[events.length - 1].globalPosition;
      }
    },
    close: async () => {
      await dataSource.destroy();
      await db.drop();
    },
  };
}

async function emmett(): Promise<Contender> {
  // Emmett ships ESM and CommonJS builds; a dynamic import keeps it out of the services' module graph.
  const { getPostgreSQLEventStore, readMessagesBatch } = await import('@event-driven-io/emmett-postgresql');
  // Emmett's own pool library (a dependency of emmett-postgresql), for the read-all query Emmett's consumers use.
  const { dumbo } = await import('@event-driven-io/dumbo');
  const db = await TestDatabase.create('fl_bench_emmett');
  const eventStore = getPostgreSQLEventStore(db.url);
  await eventStore.schema.migrate();
  const pool = dumbo({ connectionString: db.url });
  return {
    name: 'Emmett',
    append: async (streamId, expectedVersion, first, count) => {
      const events = Array.from({ length: count }, (_, k) => ({
        type: 'BenchSampled',
        data: sample(first + k),
      }));
      const result = await eventStore.appendToStream(streamId, events, {
        expectedStreamVersion: BigInt(expectedVersion),
      });
      if (result.nextExpectedStreamVersion !== BigInt(expectedVersion + count)) {
        throw new Error(`Emmett append to ${streamId} ended at ${result.nextExpectedStreamVersion}`);
      }
    },
    readAll: async (page) => {
      // readMessagesBatch is what Emmett's consumers poll with: messages below the snapshot's xmin,
      // ordered by (transaction_id, global_position).
      let after = 0n;
      let read = 0;
      for (;;) {
        const batch = await readMessagesBatch(pool.execute, { after, batchSize: page });
        if (batch.messages.length === 0) return read;
        read += batch.messages.length;
        after = batch.currentGlobalPosition;
      }
    },
    close: async () => {
      await pool.close();
      await eventStore.close();
      await db.drop();
    },
  };
}

interface Case {
  name: string;
  /** Runs the case on one contender; returns the number of events. */
  run(contender: Contender, tag: string): Promise<number>;
}

function cases(scale: number): Case[] {
  const single = Math.max(8, Math.round(3000 * scale));
  const batched = Math.max(500, Math.round(50_000 * scale));
  const writers = 8;
  const perStream = (size: number): Case => ({
    name: `${size} events/append, new stream each`,
    run: async (contender, tag) => {
      for (let done = 0; done < batched; done += size) {
        await contender.append(`${tag}-b${size}-${done}`, 0, done, size);
      }
      return batched;
    },
  });
  return [
    {
      name: '1 event/append, one stream',
      run: async (contender, tag) => {
        for (let i = 0; i < single; i++) await contender.append(`${tag}-one`, i, i, 1);
        return single;
      },
    },
    {
      name: `1 event/append, ${writers} writers, new streams`,
      run: async (contender, tag) => {
        const perWriter = Math.floor(single / writers);
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (let i = 0; i < perWriter; i++) await contender.append(`${tag}-w${w}-${i}`, 0, i, 1);
          }),
        );
        return perWriter * writers;
      },
    },
    perStream(100),
    perStream(500),
    { name: 'read all in order, pages of 2000', run: (contender) => contender.readAll(2000) },
  ];
}

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function benchVsEmmett(): Promise<void> {
  process.env.TEST_ADMIN_DATABASE_URL ??=
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const scale = argument('--scale', 1);
  const repetitions = argument('--repetitions', 3);
  const plan = cases(scale);
  // rates[case][contender] = events/s of each repetition
  const rates = plan.map(() => [[], [], []] as number[][]);
  const names = ['FL + outbox', 'FL no outbox', 'Emmett'];
  const started = Date.now();
  for (let rep = 0; rep < repetitions; rep++) {
    const contenders = [
      await fleetLedger(names[0], 'bench.events.v1'),
      await fleetLedger(names[1], undefined),
      await emmett(),
    ];
    try {
      for (const [c, benchCase] of plan.entries()) {
        for (let k = 0; k < contenders.length; k++) {
          const index = (k + rep + c) % contenders.length;
          const t = process.hrtime.bigint();
          const count = await benchCase.run(contenders[index], `r${rep}`);
          const seconds = Number(process.hrtime.bigint() - t) / 1e9;
          rates[c][index].push(count / seconds);
          process.stderr.write(
            `rep ${rep + 1} ${benchCase.name.padEnd(42)} ${names[index].padEnd(13)} ${count} events ${(count / seconds).toFixed(0)}/s\n`,
          );
        }
      }
    } finally {
      for (const contender of contenders) await contender.close();
    }
  }
  const cell = (value: number) => value.toFixed(0).padStart(13);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`.padStart(9);
  process.stdout.write(
    `\nevents/s, median of ${repetitions} repetitions, scale ${scale}, ${((Date.now() - started) / 1000).toFixed(0)} s in all\n`,
  );
  process.stdout.write(
    `${'case'.padEnd(42)} ${names.map((n) => n.padStart(13)).join(' ')}  FL+ob/Em  FL/Em\n`,
  );
  for (const [c, benchCase] of plan.entries()) {
    const [withOutbox, without, peer] = rates[c].map(median);
    process.stdout.write(
      `${benchCase.name.padEnd(42)} ${cell(withOutbox)} ${cell(without)} ${cell(peer)}  ${ratio(withOutbox, peer)} ${ratio(without, peer)}\n`,
    );
  }
  process.stdout.write(
    'FL read: EventStore.readAll (global_position > n ORDER BY global_position), envelopes parsed and validated.\n' +
      'Emmett read: readMessagesBatch, the query its consumers poll with (transaction_id < snapshot xmin,\n' +
      'ORDER BY transaction_id, global_position), rows mapped to messages.\n',
  );
}
