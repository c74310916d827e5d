import { Module } from '@nestjs/common';
import { PlatformModule } from '@fleetledger/platform';
import { BillingPeriodsController } from './api/billing-periods.controller';
import { FleetHealthConsumer } from './api/fleet-health.consumer';
import { InvoicesController } from './api/invoices.controller';
import { RatePlansController } from './api/rate-plans.controller';
import { UsageConsumer } from './api/usage.consumer';
import { UsageHoldsController } from './api/usage-holds.controller';
import { billingService } from './billing.options';
import { BILLING_ENV, parseBillingEnv } from './billing.config';
import { ProgressController } from './api/progress.controller';
import { AutoFinalizer } from './handlers/auto-finalizer';
import { CompletenessQueries } from './queries/completeness.queries';
import { BillingStore } from './handlers/billing-store';
import { InvoiceHandler } from './handlers/invoice.handler';
import { MonthCloseHandler } from './handlers/month-close.handler';
import { RatePlanHandler } from './handlers/rate-plan.handler';
import { UsageRater } from './handlers/usage-rater';
import { InvoiceQueries } from './queries/invoice.queries';
import { UsageHoldQueries } from './queries/usage-holds.queries';

@Module({
  imports: [PlatformModule.forService(billingService)],
  controllers: [
    BillingPeriodsController,
    InvoicesController,
    RatePlansController,
    UsageHoldsController,
    ProgressController,
  ],
  providers: [
    BillingStore,
    InvoiceHandler,
    MonthCloseHandler,
    RatePlanHandler,
    UsageRater,
    UsageConsumer,
    FleetHealthConsumer,
    InvoiceQueries,
    UsageHoldQueries,
    CompletenessQueries,
    AutoFinalizer,
    { provide: BILLING_ENV, useFactory: () => parseBillingEnv(process.env) },
  ],
})
export class BillingModule {}
