import { Module } from '@nestjs/common';
import { PlatformModule } from '@fleetledger/platform';
import { FleetConsumer } from './api/fleet.consumer';
import { MeteringController } from './api/metering.controller';
import { PlacementsConsumer } from './api/placements.consumer';
import { MeteringProgressController } from './api/progress.controller';
import { TelemetryConsumer } from './api/telemetry.consumer';
import { AttributionCache } from './ingestion/attribution-cache';
import { SampleIngestor } from './ingestion/sample-ingestor';
import { SamplePartitions } from './ingestion/sample-partitions';
import { SampleArchive } from './retention/sample-archive';
import { METERING_ENV, parseMeteringEnv } from './metering.config';
import { meteringService } from './metering.options';
import { PlacementsHandler } from './placements/placements.handler';
import { UsageQueries } from './queries/usage.queries';
import { WindowCloser } from './windows/window-closer';

@Module({
  imports: [PlatformModule.forService(meteringService)],
  controllers: [MeteringController, MeteringProgressController],
  providers: [
    { provide: METERING_ENV, useFactory: () => parseMeteringEnv(process.env) },
    AttributionCache,
    SamplePartitions,
    SampleIngestor,
    SampleArchive,
    PlacementsHandler,
    // Consumers (api/*.consumer.ts), each registered with Messaging in its onModuleInit.
    TelemetryConsumer,
    PlacementsConsumer,
    FleetConsumer,
    WindowCloser,
    UsageQueries,
  ],
})
export class MeteringModule {}
