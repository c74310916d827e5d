import { EventRegistry, inventory, ServiceKafkaTopics } from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { inventoryMigrations } from './migrations';
import { fleetProjection } from './projections/fleet.projection';

/** How the platform runs the inventory service: its schema, migrations, events and topics. */
export const inventoryService: ServiceOptions = {
  service: 'inventory',
  schema: 'inventory',
  migrations: inventoryMigrations,
  registry: new EventRegistry(inventory.allInventoryEvents),
  eventsTopic: ServiceKafkaTopics.inventory.events,
  // Its subscriptions live with its Kafka ACLs (libs/contracts/src/kafka-acls.ts), so the two cannot drift.
  consumedTopics: [...ServiceKafkaTopics.inventory.consumes],
  projections: [fleetProjection],
  openApi: {
    title: 'FleetLedger inventory',
    description: 'The fleet of sites, halls, racks, nodes and GPUs, its power and its health, as events.',
  },
};
