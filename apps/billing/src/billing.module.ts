import { Module } from '@nestjs/common';
import { PlatformModule } from '@fleetledger/platform';
import { billingService } from './billing.options';

@Module({
  imports: [PlatformModule.forService(billingService)],
})
export class BillingModule {}
