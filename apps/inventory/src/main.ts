import 'reflect-metadata';
import { runService } from '@fleetledger/platform';
import { InventoryModule } from './inventory.module';
import { inventoryService } from './inventory.options';

runService(InventoryModule, inventoryService).catch((error: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', service: 'inventory', message: String((error as Error)?.stack ?? error) })}\n`,
  );
  process.exit(1);
});
