import { allocation, EventRegistry, inventory, metering, ServiceKafkaTopics } from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { meteringMigrations } from './migrations';
import { fleetProjection } from './projections/fleet.projection';
import { usageProjection } from './projections/usage.projection';

/** The schema this service owns (its SQL names it through this constant). */
export const METERING_SCHEMA = 'metering';

/** How the platform runs the metering service: its schema, migrations, events and topics. */
export const meteringService: ServiceOptions = {
  service: 'metering',
  schema: METERING_SCHEMA,
  migrations: meteringMigrations,
  registry: new EventRegistry([
    ...metering.allMeteringEvents,
    ...allocation.allAllocationEvents,
    ...inventory.allInventoryEvents,
  ]),
  eventsTopic: ServiceKafkaTopics.metering.events,
  // Its subscriptions live with its Kafka ACLs (libs/contracts/src/kafka-acls.ts), so the two cannot drift.
  consumedTopics: [...ServiceKafkaTopics.metering.consumes],
  projections: [usageProjection, fleetProjection],
  openApi: {
    title: 'FleetLedger metering',
    description: 'GPU telemetry in, usage records out: every GPU-second and watt-hour, once.',
  },
};
