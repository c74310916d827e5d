import { EventRegistry, Topics } from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { billingMigrations } from './migrations';

/** How the platform runs the billing service: its schema, migrations, events and topics. */
export const billingService: ServiceOptions = {
  service: 'billing',
  schema: 'billing',
  migrations: billingMigrations,
  registry: new EventRegistry([]),
  eventsTopic: Topics.billingEvents,
  consumedTopics: [Topics.meteringEvents, Topics.allocationEvents],
  openApi: { title: 'FleetLedger billing', description: 'The billing service of FleetLedger.' },
};
