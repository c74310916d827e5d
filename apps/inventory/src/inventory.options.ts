import { EventRegistry, Topics } from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { inventoryMigrations } from './migrations';

/** How the platform runs the inventory service: its schema, migrations, events and topics. */
export const inventoryService: ServiceOptions = {
  service: 'inventory',
  schema: 'inventory',
  migrations: inventoryMigrations,
  registry: new EventRegistry([]),
  eventsTopic: Topics.inventoryEvents,
  consumedTopics: [],
  openApi: { title: 'FleetLedger inventory', description: 'The inventory service of FleetLedger.' },
};
