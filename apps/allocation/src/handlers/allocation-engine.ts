import {
  allocation,
  EventEnvelope,
  inventory,
  NewEvent,
  Principal,
  servicePrincipal,
} from '@fleetledger/contracts';
import { currentPrincipal } from '@fleetledger/platform';
import {
  CommandTarget,
  EventStore,
  Projection,
  Queryable,
  readInbox,
  recordEvents,
  retryOnConflict,
  runInTransaction,
  StreamAppend,
} from '@fleetledger/eventstore';
import { DataSource } from 'typeorm';
import { Rejection, isRejection } from '../domain/rejection';
import { AllocationState, evolve } from '../domain/state';
import { runEvictions, runQueue } from '../domain/ledger';
import { applySteps, StreamEvents } from '../domain/steps';
import { fleetGpusProjection, INVENTORY_CONSUMER } from '../projections/fleet-gpus.projection';
import { leasesProjection } from '../projections/leases.projection';
import { placementsProjection } from '../projections/placements.projection';
import { quotasProjection } from '../projections/quotas.projection';

/** Another replica may append between our reload and our append; beyond this many conflicts in a row, the caller gets a 409. */
const MAX_CONFLICT_RETRIES = 5;
/** Commands committed together in one transaction at most. */
const MAX_BATCH = 200;

export type { StreamEvents } from '../domain/steps';

interface PendingCommand {
  correlationId: string;
  /** Who asked (captured when the command was queued: a group commit mixes several callers). */
  principal: Principal | undefined;
  /** Decides the command's events, in steps the engine applies one after the other (the only place state changes). */
  step: (state: AllocationState) => Iterable<StreamEvents> | Rejection;
  resolve: (events: EventEnvelope[]) => void;
  reject: (error: unknown) => void;
}

export const ownProjections: Projection[] = [leasesProjection, quotasProjection, placementsProjection];

export class RejectedCommand extends Error {
  constructor(readonly rejection: Rejection) {
    super(rejection.detail);
  }
}

/**
 * Holds the allocation state in memory (capacity view of 220,000 GPUs, leases, quotas, ledger) and
 * runs every command and every consumed inventory event through it one at a time.
 *
 * This is the single-writer variant of libs/eventstore's `handleCommand` (docs/architecture.md, "One
 * way to handle a command"): the same steps, with the load done once at start instead of per command.
 * - load: `reload()` folds the inbox's inventory events and the whole allocation log with `evolve`
 *   (state.ts), and remembers each stream's version; it runs at start and after any failed append.
 * - decide: each queued command's step, on the in-memory state; a rejection is a value with its reason;
 *   the decided events are applied in memory step by step (`applySteps`), so the next command sees them.
 * - record: `recordEvents` (the same code `handleCommand` appends with): events + outbox with each
 *   stream's expected version, then the registered inline projections (`ownProjections`), in ONE
 *   transaction.
 * - retry: `retryOnConflict` (the same bounded retry): another replica wrote first, so the state is
 *   rebuilt from the database and the commands are decided again. Any failed append also rebuilds the
 *   state before the next step, so memory never holds what the log does not.
 * What differs is group commit: commands that arrive while a transaction is in flight are decided one
 * after the other and recorded together in one transaction (one log-head lock for up to MAX_BATCH
 * commands), which is where the service's placement throughput comes from (bench/allocation).
 */
export class AllocationEngine {
  private state = new AllocationState();
  private readonly versions = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private stale = true;
  private readonly pending: PendingCommand[] = [];

  /** Where the engine records: the store, the outbox topic and the inline projections (as `handleCommand`). */
  private readonly target: CommandTarget;

  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EventStore,
    /** Full topic name (deployment prefix included). */
    eventsTopic: string,
  ) {
    this.target = { dataSource, store, topic: eventsTopic, projections: ownProjections };
  }

  /** Runs `work` after every step queued before it (a single-writer lane). */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Rebuilds the state: inventory events as received (inbox order), then the allocation log. */
  private async reload(db: Queryable = this.dataSource): Promise<void> {
    const state = new AllocationState();
    this.versions.clear();
    let seq = 0;
    for (;;) {
      const rows = await readInbox(db, this.store.schema, {
        consumers: [INVENTORY_CONSUMER],
        afterSeq: seq,
        limit: 2000,
      });
      for (const row of rows) {
        const parsed = this.store.registry.parsePayload(
          row.envelope.type,
          row.envelope.schemaVersion,
          row.envelope.payload,
        );
        if (parsed.ok) evolve(state, { type: row.envelope.type, payload: parsed.value.payload });
        seq = row.seq;
      }
      if (rows.length < 2000) break;
    }
    let position = 0;
    for (;;) {
      const events = await this.store.readAll(db, position, 5000);
      for (const event of events) {
        evolve(state, event);
        this.versions.set(event.streamId, event.streamVersion);
        position = event.globalPosition;
      }
      if (events.length < 5000) break;
    }
    this.state = state;
    this.stale = false;
  }

  /** Appends one command's events with the version the state was built at; remembers the new version. */
  private async append(
    tx: Queryable,
    streamId: string,
    events: NewEvent[],
    cause: { correlationId: string; causationId: string },
  ): Promise<EventEnvelope[]> {
    if (events.length === 0) return [];
    const appended = await recordEvents(
      tx,
      this.target,
      [{ streamId, expectedVersion: this.versions.get(streamId) ?? 0, events }],
      { ...cause, principal: servicePrincipal('allocation') },
    );
    for (const envelope of appended) this.versions.set(envelope.streamId, envelope.streamVersion);
    return appended;
  }

  /**
   * The decided commands of one group commit in ONE append (one log-head lock, one insert of events and
   * outbox rows), each with its own expected version and correlation id; returns each command's events.
   */
  private async appendBatch(
    tx: Queryable,
    decided: { command: PendingCommand; appends: StreamEvents[] }[],
  ): Promise<EventEnvelope[][]> {
    const expected = new Map<string, number>();
    const appends: StreamAppend[] = [];
    for (const { command, appends: mine } of decided) {
      for (const { streamId, events } of mine) {
        if (events.length === 0) continue;
        const version = expected.get(streamId) ?? this.versions.get(streamId) ?? 0;
        appends.push({
          streamId,
          expectedVersion: version,
          events,
          context: { correlationId: command.correlationId, principal: command.principal },
        });
        expected.set(streamId, version + events.length);
      }
    }
    // The group commit's events in one append and one call per projection (batch appliers write a few statements).
    const appended = await recordEvents(tx, this.target, appends, { correlationId: 'allocation-batch' });
    for (const envelope of appended) this.versions.set(envelope.streamId, envelope.streamVersion);
    let offset = 0;
    return decided.map(({ appends: mine }) => {
      const count = mine.reduce((n, a) => n + a.events.length, 0);
      const envelopes = appended.slice(offset, offset + count);
      offset += count;
      return envelopes;
    });
  }

  /**
   * One command on one stream. `step` gets the current state and returns the events to append, or a
   * rejection; the engine applies the events.
   *
   * Group commit: commands that arrive while a transaction is in flight are decided one after the
   * other on the state as the previous ones left it, and committed together in the next
   * transaction (one append, each command with its own correlation id). A caller's promise settles when its
   * events are committed.
   */
  execute(
    streamId: string,
    correlationId: string,
    step: (state: AllocationState) => NewEvent[] | Rejection,
  ): Promise<EventEnvelope[]> {
    return this.executeAcross(correlationId, (state) => {
      const events = step(state);
      return isRejection(events) ? events : [{ streamId, events }];
    });
  }

  /**
   * One command that appends to several streams in one transaction (a lease's end: `lease-book` and
   * `placement-ledger`), each with its expected version; the caller gets the events in the order the streams
   * first appear in the steps.
   */
  executeAcross(
    correlationId: string,
    step: (state: AllocationState) => Iterable<StreamEvents> | Rejection,
  ): Promise<EventEnvelope[]> {
    return new Promise<EventEnvelope[]>((resolve, reject) => {
      this.pending.push({ correlationId, principal: currentPrincipal(), step, resolve, reject });
      if (this.pending.length === 1) void this.serial(() => this.flush(this.pending.splice(0, MAX_BATCH)));
    });
  }

  private async flush(batch: PendingCommand[]): Promise<void> {
    if (this.pending.length > 0) void this.serial(() => this.flush(this.pending.splice(0, MAX_BATCH)));
    /** Commands not yet settled: a retry decides these again, a failure rejects these. */
    let open = batch;
    try {
      await retryOnConflict(
        MAX_CONFLICT_RETRIES,
        async () => {
          if (this.stale) await this.reload();
          const decided = this.decideBatch(open);
          open = decided.map((d) => d.command);
          if (decided.length === 0) return;
          const results = await runInTransaction(this.dataSource, (tx) => this.appendBatch(tx, decided));
          decided.forEach(({ command }, i) => command.resolve(results[i]));
          open = [];
        },
        // Another replica appended first: decide again on the state as the log now has it.
        () => (this.stale = true),
      );
    } catch (error) {
      if (open.length > 0) this.stale = true;
      for (const command of open) command.reject(error);
    }
  }

  /** Decides each command on the state as the ones before it left it; rejected ones are settled here. */
  private decideBatch(batch: PendingCommand[]): { command: PendingCommand; appends: StreamEvents[] }[] {
    const decided: { command: PendingCommand; appends: StreamEvents[] }[] = [];
    for (const command of batch) {
      let appends: StreamEvents[];
      try {
        const steps = command.step(this.state);
        if (isRejection(steps)) {
          command.reject(new RejectedCommand(steps));
          continue;
        }
        appends = applySteps(this.state, steps);
      } catch (error) {
        this.stale = true; // a bug left the state half-changed: rebuild it before the next batch
        command.reject(error);
        continue;
      }
      decided.push({ command, appends });
    }
    return decided;
  }

  /**
   * An inventory event, inside the inbox consumer's transaction: the view takes it in; placements
   * on GPUs that failed, drained or left are evicted and placed again (or queued); the queue is
   * retried. Those allocation events commit with the inbox row, so a redelivery changes nothing.
   */
  onInventoryEvent(envelope: EventEnvelope, tx: Queryable): Promise<void> {
    return this.serial(async () => {
      if (this.stale) await this.reload(); // committed state only: this batch is not yet
      try {
        evolve(this.state, envelope);
        await fleetGpusProjection.apply(tx, envelope, this.store.schema);
        const at = envelope.occurredAt;
        const payload = envelope.payload as Record<string, unknown>;
        const gpuIds = Array.isArray(payload.gpuIds)
          ? (payload.gpuIds as string[])
          : typeof payload.gpuId === 'string'
            ? [payload.gpuId]
            : [];
        const events = [...runEvictions(this.state, gpuIds, at), ...runQueue(this.state, at)];
        // Caused by the inventory event, decided by this service on its own.
        await this.append(tx, allocation.AllocationStreams.placementLedger, events, {
          correlationId: envelope.correlationId,
          causationId: envelope.eventId,
        });
      } catch (error) {
        this.stale = true;
        throw error;
      }
    });
  }

  /** Read access for queries that the in-memory state answers best (utilization, capacity). */
  read<T>(query: (state: AllocationState) => T): Promise<T> {
    return this.serial(async () => {
      if (this.stale) await this.reload();
      return query(this.state);
    });
  }

  /** Loads the state at start. */
  async start(): Promise<void> {
    await this.serial(() => this.reload());
  }

  static isInventoryEvent(type: string): type is inventory.InventoryEventType {
    return type.startsWith('inventory.');
  }
}
