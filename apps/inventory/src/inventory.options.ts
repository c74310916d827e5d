import { EventRegistry, inventory, Topics } from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { inventoryMigrations } from './migrations';

/** How the platform runs the inventory service: its schema, migrations, events and topics. */
export const inventoryService: ServiceOptions = {
  service: 'inventory',
  schema: 'inventory',
  migrations: inventoryMigrations,
  registry: new EventRegistry(inventory.allInventoryEvents),
  eventsTopic: Topics.inventoryEvents,
  consumedTopics: [],
  openApi: { title: 'FleetLedger inventory', description: 'The fleet of sites, halls, racks, nodes and GPUs, its power and its health, as events.' },
};
