import { Module } from '@nestjs/common';
import { PlatformModule } from '@fleetledger/platform';
import { MeteringController } from './api/metering.controller';
import { MeteringProgressController } from './api/progress.controller';
import { AttributionCache } from './ingestion/attribution-cache';
import { SampleIngestor } from './ingestion/sample-ingestor';
import { SamplePartitions } from './ingestion/sample-partitions';
import { SampleArchive } from './retention/sample-archive';
import { TelemetryConsumer } from './ingestion/telemetry.consumer';
import { METERING_ENV, parseMeteringEnv } from './metering.config';
import { meteringService } from './metering.options';
import { PlacementsHandler } from './placements/placements.handler';
import { FleetHandler } from './fleet/fleet.handler';
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
    TelemetryConsumer,
    PlacementsHandler,
    FleetHandler,
    WindowCloser,
    UsageQueries,
  ],
})
export class MeteringModule {}
