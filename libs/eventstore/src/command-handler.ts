import { DataSource } from 'typeorm';
import { EventEnvelope, NewEvent, Principal, Rejection } from '@fleetledger/contracts';
import { Decider, isRejected } from './decider';
import { WrongExpectedVersionError } from './errors';
import { AppendContext, EventStore, ExpectedVersion, StreamAppend } from './event-store';
import { applyAll, Projection } from './projection';
import { Queryable } from './sql';
import { runInTransaction } from './transaction';

/**
 * Where a service's commands write, registered once per service: its event store, the Kafka topic its
 * outbox publishes to, and the inline projections updated in the same transaction as every append.
 */
export interface CommandTarget {
  dataSource: DataSource;
  store: EventStore;
  /** Full topic name (deployment prefix included); absent: no outbox rows (tests, tools). */
  topic?: string;
  /** Inline read models: applied, in this order, to the appended events inside the append's transaction. */
  projections: readonly Projection[];
}

/** An event as a decider returns it. `occurredAt` defaults to the command's. */
export interface DecidedEvent {
  type: string;
  payload: unknown;
  occurredAt?: string;
  /** Deterministic id (idempotent commands); a UUIDv7 otherwise. */
  eventId?: string;
}

/** Who and what caused the command; recorded on every event it appends. */
export interface CommandContext {
  correlationId: string;
  causationId?: string;
  tenantId?: string;
  /** Default: the store's ambient principal (the request's caller). */
  principal?: Principal;
  /** When the change happened; events that do not carry their own time get this one. */
  occurredAt?: string;
}

/** The state to decide on, and the version each stream must still be at when the events are appended. */
export interface LoadedState<State> {
  state: State;
  expectedVersion(streamId: string): ExpectedVersion;
}

export interface HandleOptions<State, Command, Event extends DecidedEvent> {
  /** The stream every event goes to, or a function naming each event's stream. */
  streamOf: string | ((event: Event) => string);
  /**
   * The streams the default loader reads when `streamOf` is a function (a decision over several streams,
   * as a transfer between two accounts): their events are folded in log order, and each one's version is
   * expected when appending, so a rule across streams is protected optimistically, without a lock.
   */
  streams?: (commands: readonly Command[]) => readonly string[];
  /**
   * Loads the state, inside the command's transaction. Default: the events of the stream `streamOf` names
   * (or of `streams`) folded with the decider's `evolve`, expected version = the version read (optimistic).
   * A service that decides on a read model (inventory's fleet slice) passes its own loader with a `lock`.
   */
  load?: (tx: Queryable, commands: readonly Command[]) => Promise<LoadedState<State>>;
  /**
   * A transaction-scoped advisory lock taken before loading: serialises deciding with appending across
   * replicas, for rules that span streams (optimistic versions only protect each stream on its own).
   */
  lock?: string;
  /** Attempts after a version conflict (another writer appended between load and append). Default 3. */
  retries?: number;
  context: CommandContext;
}

export type CommandResult<Reason extends string = string> =
  { kind: 'accepted'; events: EventEnvelope[] } | { kind: 'rejected'; rejection: Rejection<Reason> };

export interface BatchResult<Command, Reason extends string = string> {
  events: EventEnvelope[];
  rejections: { index: number; command: Command; rejection: Rejection<Reason> }[];
}

export const DEFAULT_CONFLICT_RETRIES = 3;

/**
 * Handles one command: in ONE transaction (optional advisory lock), load the state, decide, append the
 * events with the expected versions (and the outbox rows), apply the inline projections; on a version
 * conflict the whole transaction is rolled back and tried again from the load, up to `retries` times,
 * after which the WrongExpectedVersionError propagates (HTTP 409). A rejection writes nothing and is
 * returned as a value with its reason.
 */
export async function handleCommand<State, Command, Event extends DecidedEvent, Reason extends string>(
  target: CommandTarget,
  decider: Decider<State, Command, Event, Reason>,
  command: Command,
  options: HandleOptions<State, Command, Event>,
): Promise<CommandResult<Reason>> {
  const result = await handleCommands(target, decider, [command], { ...options, atomic: true });
  return result.rejections.length > 0
    ? { kind: 'rejected', rejection: result.rejections[0].rejection }
    : { kind: 'accepted', events: result.events };
}

/**
 * Several commands in one transaction, each decided on the state the ones before it left (their events
 * are evolved in). `atomic`: the first rejection ends the batch and nothing is written (it is the only
 * rejection reported); otherwise rejected commands are skipped and reported and the rest recorded
 * (a bulk import).
 */
export async function handleCommands<State, Command, Event extends DecidedEvent, Reason extends string>(
  target: CommandTarget,
  decider: Decider<State, Command, Event, Reason>,
  commands: readonly Command[],
  options: HandleOptions<State, Command, Event> & { atomic: boolean },
): Promise<BatchResult<Command, Reason>> {
  const streamOf = options.streamOf;
  const load = options.load ?? loadStreams(target.store, decider, streamOf, options.streams);
  return retryOnConflict(options.retries ?? DEFAULT_CONFLICT_RETRIES, () =>
    runInTransaction(target.dataSource, async (tx) => {
      if (options.lock)
        await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [
          `${target.store.schema}:${options.lock}`,
        ]);
      const { state, expectedVersion } = await load(tx, commands);
      let current = state;
      const decided: Event[] = [];
      const rejections: BatchResult<Command, Reason>['rejections'] = [];
      for (const [index, command] of commands.entries()) {
        const decision = decider.decide(current, command);
        if (isRejected(decision)) {
          rejections.push({ index, command, rejection: decision });
          if (options.atomic) return { events: [], rejections };
          continue;
        }
        for (const event of decision) current = decider.evolve(current, event);
        decided.push(...decision);
      }
      const appends = toAppends(decided, streamOf, expectedVersion, options.context.occurredAt);
      const events = await recordEvents(tx, target, appends, options.context);
      return { events, rejections };
    }),
  );
}

/**
 * The write half of command handling, for handlers that decide on their own (allocation's single
 * writer): append (events + outbox) with each stream's expected version, then every inline projection,
 * in the caller's transaction. Throws WrongExpectedVersionError if a stream moved on; the caller's
 * transaction must then roll back.
 */
export async function recordEvents(
  tx: Queryable,
  target: Pick<CommandTarget, 'store' | 'topic' | 'projections'>,
  appends: readonly StreamAppend[],
  context: Omit<CommandContext, 'occurredAt'>,
): Promise<EventEnvelope[]> {
  const appendContext: AppendContext = {
    correlationId: context.correlationId,
    ...(context.causationId ? { causationId: context.causationId } : {}),
    ...(context.tenantId ? { tenantId: context.tenantId } : {}),
    ...(context.principal ? { principal: context.principal } : {}),
    ...(target.topic ? { topic: target.topic } : {}),
  };
  const envelopes = await target.store.appendToStreams(tx, appends, appendContext);
  if (envelopes.length === 0) return envelopes;
  for (const projection of target.projections) await applyAll(tx, projection, envelopes, target.store.schema);
  return envelopes;
}

/**
 * Runs `attempt` again after a WrongExpectedVersionError, at most `retries` more times; `onConflict`
 * runs before each retry (allocation marks its in-memory state stale there). Any other error, or a
 * conflict on the last attempt, propagates.
 */
export async function retryOnConflict<T>(
  retries: number,
  attempt: (attemptNumber: number) => Promise<T>,
  onConflict?: (error: WrongExpectedVersionError) => void,
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || n >= retries) throw error;
      onConflict?.(error);
    }
  }
}

/** The default loader: the streams' events folded with `evolve` in log order; their versions are the expected ones. */
function loadStreams<State, Command, Event extends DecidedEvent>(
  store: EventStore,
  decider: Decider<State, Command, Event, string>,
  streamOf: string | ((event: Event) => string),
  streams: ((commands: readonly Command[]) => readonly string[]) | undefined,
): (tx: Queryable, commands: readonly Command[]) => Promise<LoadedState<State>> {
  if (typeof streamOf !== 'string' && !streams)
    throw new Error(
      'handleCommand: a per-event streamOf needs `streams` or a `load` that says how the state is read',
    );
  return async (tx, commands) => {
    const streamIds = typeof streamOf === 'string' ? [streamOf] : [...new Set(streams!(commands))];
    const versions = new Map<string, number>();
    const stored: EventEnvelope[] = [];
    for (const streamId of streamIds) {
      const events = await store.readStream(tx, streamId);
      versions.set(streamId, events.length > 0 ? events[events.length - 1].streamVersion : 0);
      stored.push(...events);
    }
    if (streamIds.length > 1) stored.sort((a, b) => a.globalPosition - b.globalPosition);
    let state = decider.initialState();
    // Stored envelopes carry the decided event's type and (upcast) payload, which is what evolve reads.
    for (const envelope of stored) state = decider.evolve(state, envelope as unknown as Event);
    return {
      state,
      expectedVersion: (streamId) => {
        const version = versions.get(streamId);
        // A stream the decision did not read cannot be checked: that is a bug in `streams`, not a conflict.
        if (version === undefined)
          throw new Error(`handleCommand: an event goes to ${streamId}, which was not loaded (${streamIds})`);
        return version;
      },
    };
  };
}

/**
 * Consecutive events of one stream become one append; the log keeps the order they were decided in.
 * A stream's expected version grows by the events already appended to it in this batch.
 */
function toAppends<Event extends DecidedEvent>(
  events: readonly Event[],
  streamOf: string | ((event: Event) => string),
  expectedVersion: (streamId: string) => ExpectedVersion,
  occurredAt: string | undefined,
): StreamAppend[] {
  const appends: StreamAppend[] = [];
  const appended = new Map<string, number>();
  for (const event of events) {
    const streamId = typeof streamOf === 'string' ? streamOf : streamOf(event);
    const at = event.occurredAt ?? occurredAt;
    if (!at) throw new Error(`event ${event.type} has no occurredAt and the command context gives none`);
    const newEvent: NewEvent = {
      type: event.type,
      payload: event.payload,
      occurredAt: at,
      ...(event.eventId ? { eventId: event.eventId } : {}),
    };
    const last = appends[appends.length - 1];
    if (last && last.streamId === streamId) {
      (last.events as NewEvent[]).push(newEvent);
    } else {
      const base = expectedVersion(streamId);
      const before = appended.get(streamId) ?? 0;
      appends.push({
        streamId,
        expectedVersion: base === 'any' ? 'any' : base + before,
        events: [newEvent],
      });
    }
    appended.set(streamId, (appended.get(streamId) ?? 0) + 1);
  }
  return appends;
}
