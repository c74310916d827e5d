import { Module } from '@nestjs/common';
import { PlatformModule } from '@fleetledger/platform';
import { meteringService } from './metering.options';

@Module({
  imports: [PlatformModule.forService(meteringService)],
})
export class MeteringModule {}
