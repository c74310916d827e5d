import { EventRegistry, Topics } from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { allocationMigrations } from './migrations';

/** How the platform runs the allocation service: its schema, migrations, events and topics. */
export const allocationService: ServiceOptions = {
  service: 'allocation',
  schema: 'allocation',
  migrations: allocationMigrations,
  registry: new EventRegistry([]),
  eventsTopic: Topics.allocationEvents,
  consumedTopics: [Topics.inventoryEvents],
  openApi: { title: 'FleetLedger allocation', description: 'The allocation service of FleetLedger.' },
};
