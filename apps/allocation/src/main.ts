import 'reflect-metadata';
import { runService } from '@fleetledger/platform';
import { AllocationModule } from './allocation.module';
import { allocationService } from './allocation.options';

runService(AllocationModule, allocationService).catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', service: 'allocation', message: String((error as Error)?.stack ?? error) })}\n`,
  );
  process.exit(1);
});
