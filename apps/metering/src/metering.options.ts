import { allocation, EventRegistry, inventory, metering, Topics } from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { meteringMigrations } from './migrations';
import { fleetProjection } from './projections/fleet.projection';
import { usageProjection } from './projections/usage.projection';

/** How the platform runs the metering service: its schema, migrations, events and topics. */
export const meteringService: ServiceOptions = {
  service: 'metering',
  schema: 'metering',
  migrations: meteringMigrations,
  registry: new EventRegistry([
    ...metering.allMeteringEvents,
    ...allocation.allAllocationEvents,
    ...inventory.allInventoryEvents,
  ]),
  eventsTopic: Topics.meteringEvents,
  consumedTopics: [Topics.allocationEvents, Topics.inventoryEvents, Topics.meteringTelemetry],
  projections: [usageProjection, fleetProjection],
  openApi: {
    title: 'FleetLedger metering',
    description: 'GPU telemetry in, usage records out: every GPU-second and watt-hour, once.',
  },
};
