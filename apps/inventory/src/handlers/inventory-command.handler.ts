import { EventEnvelope, inventory, NewEvent } from '@fleetledger/contracts';
import { EventStore, Queryable, runInTransaction, StreamAppend } from '@fleetledger/eventstore';
import { Metrics, ServiceError } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { InventoryCommand } from '../domain/commands';
import { decide } from '../domain/decide';
import { evolveAll } from '../domain/evolve';
import { Rejection, isRejection } from '../domain/rejection';
import { streamOf } from '../domain/streams';
import { applyFleetEvents } from '../projections/fleet.projection';
import { loadFleetSlice } from './fleet-slice';
import { rejectionStatus } from '../inventory-errors';

export interface CommandContext {
  correlationId: string;
  /** When the change happened in the fleet; the events carry it. */
  occurredAt: string;
}

export interface BatchResult {
  events: EventEnvelope[];
  rejections: { index: number; command: InventoryCommand; rejection: Rejection }[];
}

/**
 * Decides inventory commands and records their events, in ONE transaction: command lock, load the
 * fleet slice, decide, append to the event store + outbox, update the fleet projection.
 *
 * Why a lock and not per-stream optimistic concurrency: the power rules span streams (a rack's
 * commissioning is checked against its hall's and site's caps, which other racks' streams change),
 * so two commands on different racks could each pass a check that together they break. The event
 * store no longer serialises a service's appends (issue #19: appends to different streams commit side
 * by side), so this transaction-scoped advisory lock is what serialises the decision with the append,
 * across replicas.
 */
export class InventoryCommandHandler {
  /** Plain constructor (no Nest decorators) so the import CLI and the benchmark use the same handler. */
  constructor(
    private readonly dataSource: DataSource,
    private readonly store: EventStore,
    /** Full Kafka topic name (deployment prefix included) the outbox publishes to. */
    private readonly eventsTopic: string,
    private readonly metrics?: Metrics,
  ) {}

  /** One command; a rejection becomes a ServiceError (4xx) and nothing is written. */
  async execute(command: InventoryCommand, context: CommandContext): Promise<EventEnvelope[]> {
    const stop = this.metrics?.commandDuration.startTimer({ command: command.kind });
    try {
      const result = await this.executeBatch([command], context, { atomic: true });
      stop?.({ outcome: 'accepted' });
      return result.events;
    } catch (error) {
      stop?.({ outcome: error instanceof ServiceError ? 'rejected' : 'error' });
      throw error;
    }
  }

  /**
   * Several commands in one transaction, each decided on the fleet as the ones before it left it.
   * `atomic`: the first rejection aborts all (thrown as ServiceError); otherwise rejected commands are
   * skipped and reported, the others are recorded (the bulk import).
   */
  async executeBatch(
    commands: readonly InventoryCommand[],
    context: CommandContext,
    options: { atomic: boolean },
  ): Promise<BatchResult> {
    return runInTransaction(this.dataSource, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`${this.store.schema}:commands`]);
      const fleet = await loadFleetSlice(tx, this.store.schema, commands);
      const decided: inventory.InventoryEvent[] = [];
      const rejections: BatchResult['rejections'] = [];
      commands.forEach((command, index) => {
        const decision = decide(fleet, command);
        if (isRejection(decision)) {
          if (options.atomic)
            throw new ServiceError(decision.reason, decision.detail, rejectionStatus(decision.reason), {
              command: command.kind,
            });
          rejections.push({ index, command, rejection: decision });
          return;
        }
        evolveAll(fleet, decision);
        decided.push(...decision);
      });
      const events = await this.record(tx, decided, context);
      return { events, rejections };
    });
  }

  private async record(
    tx: Queryable,
    decided: inventory.InventoryEvent[],
    context: CommandContext,
  ): Promise<EventEnvelope[]> {
    if (decided.length === 0) return [];
    // Consecutive events of one stream go in one append; the log keeps the order they were decided in.
    const appends: StreamAppend[] = [];
    for (const event of decided) {
      const streamId = streamOf(event);
      const newEvent: NewEvent = { type: event.type, payload: event.payload, occurredAt: context.occurredAt };
      const last = appends[appends.length - 1];
      if (last && last.streamId === streamId) (last.events as NewEvent[]).push(newEvent);
      else appends.push({ streamId, expectedVersion: 'any', events: [newEvent] });
    }
    const envelopes = await this.store.appendToStreams(tx, appends, {
      correlationId: context.correlationId,
      topic: this.eventsTopic,
    });
    await applyFleetEvents(tx, envelopes as unknown as inventory.InventoryEvent[], this.store.schema);
    for (const envelope of envelopes) this.metrics?.eventsAppended.inc({ type: envelope.type });
    return envelopes;
  }
}
