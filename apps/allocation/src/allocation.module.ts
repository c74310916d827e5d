import { Module, OnModuleInit } from '@nestjs/common';
import { EventStore } from '@fleetledger/eventstore';
import { Messaging, PlatformModule } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { allocationService } from './allocation.options';
import { AllocationKafkaController } from './api/allocation.kafka';
import { InventoryConsumer } from './api/inventory.consumer';
import { LeasesController } from './api/leases.controller';
import { PowerController } from './api/power.controller';
import { ProgressController } from './api/progress.controller';
import { QuotasController } from './api/quotas.controller';
import { WorkloadsController } from './api/workloads.controller';
import { AllocationCommands } from './handlers/allocation-commands';
import { AllocationEngine } from './handlers/allocation-engine';
import { AllocationQueries } from './handlers/allocation-queries';
import { WatermarkHeartbeat } from './progress/watermark-heartbeat';

@Module({
  imports: [PlatformModule.forService(allocationService)],
  controllers: [
    LeasesController,
    QuotasController,
    WorkloadsController,
    PowerController,
    ProgressController,
    AllocationKafkaController,
  ],
  providers: [
    {
      provide: AllocationEngine,
      inject: [DataSource, EventStore, Messaging],
      useFactory: (dataSource: DataSource, store: EventStore, messaging: Messaging) =>
        new AllocationEngine(dataSource, store, messaging.eventsTopic),
    },
    {
      provide: AllocationCommands,
      inject: [AllocationEngine],
      useFactory: (engine: AllocationEngine) => new AllocationCommands(engine),
    },
    {
      provide: AllocationQueries,
      inject: [DataSource],
      useFactory: (dataSource: DataSource) => new AllocationQueries(dataSource, allocationService.schema),
    },
    InventoryConsumer,
    WatermarkHeartbeat,
  ],
})
export class AllocationModule implements OnModuleInit {
  constructor(private readonly engine: AllocationEngine) {}

  /** Loads the in-memory state (migrations have run) before consumers and transports start. */
  async onModuleInit(): Promise<void> {
    await this.engine.start();
  }
}
