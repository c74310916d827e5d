import { EventEnvelope, inventory } from '@fleetledger/contracts';
import {
  BatchResult as CommandBatchResult,
  CommandContext as AppendCommandContext,
  CommandTarget,
  EventStore,
  handleCommands,
  HandleOptions,
  Queryable,
} from '@fleetledger/eventstore';
import { HttpStatus } from '@nestjs/common';
import { Metrics, ServiceError } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { InventoryCommand } from '../domain/commands';
import { Fleet } from '../domain/fleet';
import { inventoryDecider } from '../domain/inventory.decider';
import { RejectionReason } from '../domain/rejection';
import { streamOf } from '../domain/streams';
import { staleCommandDetail } from '../domain/watermark';
import { fleetProjection } from '../projections/fleet.projection';
import { loadFleetSlice } from './fleet-slice';
import { rejectionStatus } from '../inventory-errors';

export interface CommandContext {
  correlationId: string;
  /** When the change happened in the fleet; the events carry it. */
  occurredAt: string;
}

export type BatchResult = CommandBatchResult<InventoryCommand, RejectionReason>;

/**
 * Inventory's commands through libs/eventstore's `handleCommands`, in ONE transaction: command lock, load
 * the fleet slice, decide (domain/inventory.decider.ts), append to the event store + outbox, update the
 * fleet projection (registered inline).
 *
 * Why a lock and not per-stream optimistic concurrency: the power rules span streams (a rack's
 * commissioning is checked against its hall's and site's caps, which other racks' streams change),
 * so two commands on different racks could each pass a check that together they break. The event
 * store no longer serialises a service's appends (issue #19: appends to different streams commit side
 * by side), so this transaction-scoped advisory lock is what serialises the decision with the append,
 * across replicas. The state is a slice of the fleet read model (always exactly the log: it is updated
 * in the append's transaction), not a replay of streams, so the appends expect 'any' version: the lock
 * is the concurrency control.
 */
/** The advisory lock inventory's commands (and its watermark heartbeat) serialise on. */
export const COMMANDS_LOCK = 'commands';

/** Inventory's published watermark, if any (progress/watermark-heartbeat.ts). */
export interface PublishedWatermark {
  current(tx: Queryable, schema: string): Promise<number | null>;
}

export class InventoryCommandHandler {
  private readonly target: CommandTarget;

  /** Plain constructor (no Nest decorators) so the import CLI and the benchmark use the same handler. */
  constructor(
    dataSource: DataSource,
    private readonly store: EventStore,
    /** Full Kafka topic name (deployment prefix included) the outbox publishes to. */
    eventsTopic: string,
    private readonly metrics?: Metrics,
    /** Issue #22: commands stamped behind it are refused (`stale-command`). Absent: the CLI import, benchmarks. */
    private readonly watermark?: PublishedWatermark,
  ) {
    this.target = { dataSource, store, topic: eventsTopic, projections: [fleetProjection] };
  }

  /** One command; a rejection becomes a ServiceError (4xx) and nothing is written. */
  async execute(command: InventoryCommand, context: CommandContext): Promise<EventEnvelope[]> {
    const stop = this.metrics?.commandDuration.startTimer({ command: command.kind });
    try {
      const result = await this.executeBatch([command], context, { atomic: true });
      const [rejected] = result.rejections;
      if (rejected) {
        const { reason, detail } = rejected.rejection;
        throw new ServiceError(reason, detail, rejectionStatus(reason), { command: command.kind });
      }
      stop?.({ outcome: 'accepted' });
      return result.events;
    } catch (error) {
      stop?.({ outcome: error instanceof ServiceError ? 'rejected' : 'error' });
      throw error;
    }
  }

  /**
   * Several commands in one transaction, each decided on the fleet as the ones before it left it.
   * `atomic`: the first rejection aborts all (and is the one reported); otherwise rejected commands are
   * skipped and reported, the others are recorded (the bulk import).
   */
  async executeBatch(
    commands: readonly InventoryCommand[],
    context: CommandContext,
    options: { atomic: boolean },
  ): Promise<BatchResult> {
    const result = await handleCommands(this.target, inventoryDecider, commands, {
      ...this.options(context),
      atomic: options.atomic,
    });
    for (const envelope of result.events) this.metrics?.eventsAppended.inc({ type: envelope.type });
    return result;
  }

  private options(
    context: AppendCommandContext & CommandContext,
  ): HandleOptions<Fleet, InventoryCommand, inventory.InventoryEvent> {
    return {
      streamOf,
      lock: COMMANDS_LOCK,
      load: async (tx, commands) => {
        // Under the lock the heartbeat also takes: no marker can pass this command between check and append.
        const stale = this.watermark
          ? staleCommandDetail(context.occurredAt, await this.watermark.current(tx, this.store.schema))
          : null;
        if (stale) throw new ServiceError('stale-command', stale, HttpStatus.CONFLICT);
        return {
          state: await loadFleetSlice(tx, this.store.schema, commands),
          expectedVersion: () => 'any',
        };
      },
      context,
    };
  }
}
