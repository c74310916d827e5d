import { CommandContext, InventoryCommandHandler, BatchResult } from '../handlers/inventory-command.handler';
import { countGpus, FleetDescription, importCommands } from '../domain/fleet-description';

export interface ImportProgress {
  commandsDone: number;
  commandsTotal: number;
  eventsAppended: number;
  rejected: number;
}

export interface ImportSummary extends ImportProgress {
  gpusInFile: number;
  /** Commands the inventory refused (the rest was imported): reason and detail of the first ones. */
  rejections: { command: string; reason: string; detail: string }[];
}

/**
 * Imports a fleet description in batches of commands, one transaction per batch. Re-running it is
 * safe: what already exists identically produces no event, so a second run appends nothing and an
 * interrupted run picks up where it stopped. A refused command (over a power budget, a GPU id already
 * in another node, ...) is reported and skipped; the rest of the fleet goes in.
 */
export async function importFleet(
  handler: InventoryCommandHandler,
  fleet: FleetDescription,
  context: CommandContext,
  options: { batchSize?: number; onProgress?: (progress: ImportProgress) => void } = {},
): Promise<ImportSummary> {
  const commands = importCommands(fleet);
  const batchSize = options.batchSize ?? 250;
  const summary: ImportSummary = {
    gpusInFile: countGpus(fleet),
    commandsDone: 0,
    commandsTotal: commands.length,
    eventsAppended: 0,
    rejected: 0,
    rejections: [],
  };
  for (let start = 0; start < commands.length; start += batchSize) {
    const batch = commands.slice(start, start + batchSize);
    const result: BatchResult = await handler.executeBatch(batch, context, { atomic: false });
    summary.commandsDone += batch.length;
    summary.eventsAppended += result.events.length;
    summary.rejected += result.rejections.length;
    for (const { command, rejection } of result.rejections) {
      if (summary.rejections.length < 50)
        summary.rejections.push({
          command: describe(command),
          reason: rejection.reason,
          detail: rejection.detail,
        });
    }
    options.onProgress?.({
      commandsDone: summary.commandsDone,
      commandsTotal: summary.commandsTotal,
      eventsAppended: summary.eventsAppended,
      rejected: summary.rejected,
    });
  }
  return summary;
}

function describe(command: ReturnType<typeof importCommands>[number]): string {
  const body = command.body as unknown as Record<string, unknown>;
  const id = body.rackId ?? body.hallId ?? body.siteId ?? '';
  return `${command.kind} ${String(id)}`;
}
