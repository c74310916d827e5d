import { Module } from '@nestjs/common';
import { PlatformModule } from '@fleetledger/platform';
import { inventoryService } from './inventory.options';

@Module({
  imports: [PlatformModule.forService(inventoryService)],
})
export class InventoryModule {}
