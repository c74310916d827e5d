import { allocation, EventRegistry, inventory, ServiceKafkaTopics } from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { ownProjections } from './handlers/allocation-engine';
import { allocationMigrations } from './migrations';
import { fleetGpusProjection } from './projections/fleet-gpus.projection';

/** How the platform runs the allocation service: its schema, migrations, events and topics. */
export const allocationService: ServiceOptions = {
  service: 'allocation',
  schema: 'allocation',
  migrations: allocationMigrations,
  registry: new EventRegistry([...allocation.allAllocationEvents, ...inventory.allInventoryEvents]),
  eventsTopic: ServiceKafkaTopics.allocation.events,
  // Its subscriptions live with its Kafka ACLs (libs/contracts/src/kafka-acls.ts), so the two cannot drift.
  consumedTopics: [...ServiceKafkaTopics.allocation.consumes],
  projections: [...ownProjections, fleetGpusProjection],
  openApi: {
    title: 'FleetLedger allocation',
    description: 'Leases, quotas, routing policy and workload placement over the GPU fleet.',
  },
};
