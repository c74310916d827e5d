import 'reflect-metadata';
import { runService } from '@fleetledger/platform';
import { MeteringModule } from './metering.module';
import { meteringService } from './metering.options';

runService(MeteringModule, meteringService).catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', service: 'metering', message: String((error as Error)?.stack ?? error) })}\n`,
  );
  process.exit(1);
});
