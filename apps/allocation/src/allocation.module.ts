import { Module } from '@nestjs/common';
import { PlatformModule } from '@fleetledger/platform';
import { allocationService } from './allocation.options';

@Module({
  imports: [PlatformModule.forService(allocationService)],
})
export class AllocationModule {}
