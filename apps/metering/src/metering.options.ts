import { EventRegistry, Topics } from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { meteringMigrations } from './migrations';

/** How the platform runs the metering service: its schema, migrations, events and topics. */
export const meteringService: ServiceOptions = {
  service: 'metering',
  schema: 'metering',
  migrations: meteringMigrations,
  registry: new EventRegistry([]),
  eventsTopic: Topics.meteringEvents,
  consumedTopics: [Topics.allocationEvents, Topics.meteringTelemetry],
  openApi: { title: 'FleetLedger metering', description: 'The metering service of FleetLedger.' },
};
