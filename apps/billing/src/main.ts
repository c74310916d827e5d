import 'reflect-metadata';
import { runService } from '@fleetledger/platform';
import { BillingModule } from './billing.module';
import { billingService } from './billing.options';

runService(BillingModule, billingService).catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', service: 'billing', message: String((error as Error)?.stack ?? error) })}\n`,
  );
  process.exit(1);
});
