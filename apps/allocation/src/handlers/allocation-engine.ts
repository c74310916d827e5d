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
  applyAll,
  EventStore,
  Projection,
  Queryable,
  runInTransaction,
  StreamAppend,
  WrongExpectedVersionError,
} from '@fleetledger/eventstore';
import { DataSource } from 'typeorm';
import { Rejection, isRejection } from '../domain/rejection';
import { AllocationState, evolve } from '../domain/state';
import { runEvictions, runQueue } from '../domain/placement';
import { fleetGpusProjection, INVENTORY_CONSUMER } from '../projections/fleet-gpus.projection';
import { leasesProjection } from '../projections/leases.projection';
import { placementsProjection } from '../projections/placements.projection';
import { quotasProjection } from '../projections/quotas.projection';

/** Another replica may append between our reload and our append; beyond this many conflicts in a row, the caller gets a 409. */
const MAX_CONFLICT_RETRIES = 5;
/** Commands committed together in one transaction at most. */
const MAX_BATCH = 200;

/** Events one command appends to one stream. */
export interface StreamEvents {
  streamId: string;
  events: NewEvent[];
}

interface PendingCommand {
  correlationId: string;
  /** Who asked (captured when the command was queued: a group commit mixes several callers). */
  principal: Principal | undefined;
  step: (state: AllocationState) => StreamEvents[] | Rejection;
  mutates: boolean;
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
 * Each step: decide (and, for ledger steps, evolve in memory), then in ONE transaction append to the
 * stream with the expected version the state was built at, write the outbox and the inline
 * projections. If the append fails (another replica wrote first: WrongExpectedVersionError, or any
 * error) the in-memory state is rebuilt from the database before the next step, so memory never
 * holds what the log does not. A version conflict is retried on the rebuilt state (a few times).
 */
export class AllocationEngine {
  private state = new AllocationState();
  private readonly versions = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private stale = true;
  private readonly pending: PendingCommand[] = [];

  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EventStore,
    /** Full topic name (deployment prefix included). */
    private readonly eventsTopic: string,
  ) {}

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
    const s = `"${this.store.schema}"`;
    let seq = 0;
    for (;;) {
      const rows = await db.query<{ seq: string; envelope: EventEnvelope }[]>(
        `SELECT seq, envelope FROM ${s}.inbox WHERE consumer = $1 AND seq > $2 ORDER BY seq LIMIT 2000`,
        [INVENTORY_CONSUMER, seq],
      );
      for (const row of rows) {
        const parsed = this.store.registry.parsePayload(
          row.envelope.type,
          row.envelope.schemaVersion,
          row.envelope.payload,
        );
        if (parsed.ok) evolve(state, { type: row.envelope.type, payload: parsed.value.payload });
        seq = Number(row.seq);
      }
      if (rows.length < 2000) break;
    }
    let position = 0;
    // The state must hold every committed event: wait (bounded) until readers may see them all.
    await this.store.awaitHorizon(this.dataSource, await this.store.headPosition(db));
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
    const appended = await this.store.append(tx, streamId, this.versions.get(streamId) ?? 0, events, {
      ...cause,
      principal: servicePrincipal('allocation'),
      topic: this.eventsTopic,
    });
    for (const projection of ownProjections) await applyAll(tx, projection, appended, this.store.schema);
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
    const appended = await this.store.appendToStreams(tx, appends, {
      correlationId: 'allocation-batch',
      topic: this.eventsTopic,
    });
    // The group commit's events in one call per projection (batch appliers write a few statements).
    for (const projection of ownProjections) await applyAll(tx, projection, appended, this.store.schema);
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
   * rejection; `mutates` says whether it already evolved the state (ledger steps do).
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
    mutates: boolean,
  ): Promise<EventEnvelope[]> {
    return this.executeAcross(
      correlationId,
      (state) => {
        const events = step(state);
        return isRejection(events) ? events : [{ streamId, events }];
      },
      mutates,
    );
  }

  /**
   * One command that appends to several streams in one transaction (a lease's end: `lease-book` and
   * `placement-ledger`), each with its expected version; the caller gets the events in stream order given.
   */
  executeAcross(
    correlationId: string,
    step: (state: AllocationState) => StreamEvents[] | Rejection,
    mutates: boolean,
  ): Promise<EventEnvelope[]> {
    return new Promise<EventEnvelope[]>((resolve, reject) => {
      this.pending.push({ correlationId, principal: currentPrincipal(), step, mutates, resolve, reject });
      if (this.pending.length === 1)
        void this.serial(() => this.flush(this.pending.splice(0, MAX_BATCH), MAX_CONFLICT_RETRIES));
    });
  }

  private async flush(batch: PendingCommand[], retriesLeft: number): Promise<void> {
    if (this.pending.length > 0)
      void this.serial(() => this.flush(this.pending.splice(0, MAX_BATCH), MAX_CONFLICT_RETRIES));
    try {
      if (this.stale) await this.reload();
    } catch (error) {
      for (const command of batch) command.reject(error);
      return;
    }
    const decided: { command: PendingCommand; appends: StreamEvents[] }[] = [];
    for (const command of batch) {
      let appends: StreamEvents[] | Rejection;
      try {
        appends = command.step(this.state);
      } catch (error) {
        this.stale = true; // a bug left the state half-changed: rebuild it before the next batch
        command.reject(error);
        continue;
      }
      if (isRejection(appends)) {
        command.reject(new RejectedCommand(appends));
        continue;
      }
      if (!command.mutates)
        for (const { events } of appends) for (const event of events) evolve(this.state, event);
      decided.push({ command, appends });
    }
    if (decided.length === 0) return;
    try {
      const results = await runInTransaction(this.dataSource, (tx) => this.appendBatch(tx, decided));
      decided.forEach(({ command }, i) => command.resolve(results[i]));
    } catch (error) {
      this.stale = true;
      if (retriesLeft > 0 && error instanceof WrongExpectedVersionError) {
        await this.flush(
          decided.map((d) => d.command),
          retriesLeft - 1,
        );
        return;
      }
      for (const { command } of decided) command.reject(error);
    }
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
