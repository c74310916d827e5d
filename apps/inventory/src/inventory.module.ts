import { Module } from '@nestjs/common';
import { EventStore } from '@fleetledger/eventstore';
import { Messaging, Metrics, PlatformModule } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { FleetCommandsController } from './api/fleet-commands.controller';
import { FleetImportController } from './api/fleet-import.controller';
import { FleetQueriesController } from './api/fleet-queries.controller';
import { InventoryCommandHandler } from './handlers/inventory-command.handler';
import { inventoryService } from './inventory.options';
import { InventoryWatermarkHeartbeat, InventoryWatermarkStreams } from './progress/watermark-heartbeat';
import { FleetQueries } from './queries/fleet-queries';

@Module({
  imports: [PlatformModule.forService(inventoryService)],
  controllers: [FleetCommandsController, FleetImportController, FleetQueriesController],
  providers: [
    {
      provide: InventoryCommandHandler,
      inject: [DataSource, EventStore, Messaging, Metrics, InventoryWatermarkStreams],
      useFactory: (
        dataSource: DataSource,
        store: EventStore,
        messaging: Messaging,
        metrics: Metrics,
        watermark: InventoryWatermarkStreams,
      ) => new InventoryCommandHandler(dataSource, store, messaging.eventsTopic, metrics, watermark),
    },
    // Issue #22: inventory's watermark (SLA credits in billing wait for it).
    InventoryWatermarkStreams,
    InventoryWatermarkHeartbeat,
    {
      provide: FleetQueries,
      inject: [DataSource],
      useFactory: (dataSource: DataSource) => new FleetQueries(dataSource, inventoryService.schema),
    },
  ],
})
export class InventoryModule {}
