import { allocation, EventRegistry, inventory, Topics } from '@fleetledger/contracts';
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
  eventsTopic: Topics.allocationEvents,
  // Inventory's events, and the request topics of the Kafka request/reply patterns (the Nest
  // transport subscribes to them at start, so they must exist first).
  consumedTopics: [
    Topics.inventoryEvents,
    allocation.AllocationPatterns.place,
    allocation.AllocationPatterns.release,
  ],
  projections: [...ownProjections, fleetGpusProjection],
  openApi: {
    title: 'FleetLedger allocation',
    description: 'Leases, quotas, routing policy and workload placement over the GPU fleet.',
  },
};
