import 'reflect-metadata';
import { userInfo } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import { Command } from 'commander';
import { v7 as uuidv7 } from 'uuid';
import { stringify as toYaml } from 'yaml';
import { Topics, topicName } from '@fleetledger/contracts';
import { EventStore } from '@fleetledger/eventstore';
import { prepareServiceSchema, serviceMigrationOptions } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { generateColossusFleet } from '../domain/colossus-generator';
import {
  countGpus,
  FleetDescription,
  formatOf,
  parseFleetDescription,
  toFleetFile,
} from '../domain/fleet-description';
import { InventoryCommandHandler } from '../handlers/inventory-command.handler';
import { importFleet } from '../import/fleet-import';
import { inventoryService } from '../inventory.options';

/**
 * Operator commands for the fleet:
 *
 *   fleet-cli generate --seed 42 [--scale 1] --out fleet.yaml     write a Colossus-1-shaped fleet file
 *   fleet-cli import --file fleet.yaml [--batch-size 250]          import a fleet file
 *   fleet-cli import --generate --seed 42 [--scale 1]              import a generated fleet directly
 *
 * `import` writes to the inventory database (DATABASE_URL, migrations applied first) in batches, one
 * transaction each, with a progress bar; the events go to the outbox, and the running inventory
 * service's relay publishes them to Kafka. Re-running an import appends nothing.
 */
const program = new Command('fleet-cli').description(
  'FleetLedger inventory: generate and import fleet descriptions',
);

program
  .command('generate')
  .requiredOption('--seed <n>', 'seed of the generator', Number)
  .option('--scale <fraction>', 'fraction of racks per hall', Number, 1)
  .requiredOption('--out <file>', 'file to write (.json, .yaml or .yml)')
  .action((options: { seed: number; scale: number; out: string }) => {
    const fleet = generateColossusFleet({ seed: options.seed, scale: options.scale });
    const file = toFleetFile(fleet);
    writeFileSync(
      options.out,
      formatOf(options.out) === 'yaml' ? toYaml(file) : JSON.stringify(file, null, 1),
    );
    process.stdout.write(
      `wrote ${options.out}: ${fleet.halls.length} halls, ${fleet.racks.length} racks, ${countGpus(fleet)} GPUs\n`,
    );
  });

program
  .command('import')
  .option('--file <file>', 'fleet description (.json, .yaml or .yml)')
  .option('--generate', 'import a generated Colossus-1-shaped fleet instead of a file')
  .option('--seed <n>', 'seed of the generator', Number, 42)
  .option('--scale <fraction>', 'fraction of racks per hall', Number, 1)
  .option('--batch-size <n>', 'commands per transaction', Number, 250)
  .action(
    async (options: {
      file?: string;
      generate?: boolean;
      seed: number;
      scale: number;
      batchSize: number;
    }) => {
      const fleet = loadFleet(options);
      const dataSource = new DataSource({
        type: 'postgres',
        url: required('DATABASE_URL'),
        ...serviceMigrationOptions(inventoryService),
      });
      await prepareServiceSchema(required('DATABASE_URL'), inventoryService.schema);
      await dataSource.initialize();
      try {
        await dataSource.runMigrations({ transaction: 'each' });
        const handler = new InventoryCommandHandler(
          dataSource,
          new EventStore(inventoryService.schema, inventoryService.registry, {
            // The CLI writes with the inventory database role, not through the API: its events
            // record the operating-system user who ran it.
            principal: () => ({
              subject: `cli:${userInfo().username}`,
              issuer: 'fleetledger:cli',
              roles: ['operator'],
            }),
          }),
          topicName(Topics.inventoryEvents, process.env.KAFKA_TOPIC_PREFIX ?? ''),
        );
        const bar = new SingleBar(
          {
            format:
              'import [{bar}] {percentage}% | {value}/{total} commands | {events} events | {rejected} refused | {eta}s left',
          },
          Presets.shades_classic,
        );
        bar.start(1, 0, { events: 0, rejected: 0 });
        const startedAt = Date.now();
        const summary = await importFleet(
          handler,
          fleet,
          { correlationId: `import-${uuidv7()}`, occurredAt: new Date().toISOString() },
          {
            batchSize: options.batchSize,
            onProgress: (p) => {
              bar.setTotal(p.commandsTotal);
              bar.update(p.commandsDone, { events: p.eventsAppended, rejected: p.rejected });
            },
          },
        );
        bar.stop();
        process.stdout.write(
          `${JSON.stringify({ ...summary, seconds: (Date.now() - startedAt) / 1000 }, null, 1)}\n`,
        );
        if (summary.rejected > 0) process.exitCode = 2;
      } finally {
        await dataSource.destroy();
      }
    },
  );

function loadFleet(options: {
  file?: string;
  generate?: boolean;
  seed: number;
  scale: number;
}): FleetDescription {
  if (options.generate) return generateColossusFleet({ seed: options.seed, scale: options.scale });
  if (!options.file) throw new Error('give --file <fleet.yaml|json> or --generate');
  const parsed = parseFleetDescription(readFileSync(options.file, 'utf8'), formatOf(options.file));
  if (!parsed.ok)
    throw new Error(`${options.file} is not a valid fleet description:\n  ${parsed.errors.join('\n  ')}`);
  return parsed.fleet;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
