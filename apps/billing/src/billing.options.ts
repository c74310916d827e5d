import {
  allocation,
  billing,
  EventRegistry,
  inventory,
  metering,
  ServiceKafkaTopics,
} from '@fleetledger/contracts';
import type { ServiceOptions } from '@fleetledger/platform';
import { billingMigrations } from './migrations';
import { fleetHealthProjection } from './projections/fleet-health.projection';
import { invoicesProjection } from './projections/invoices.projection';
import { leasesProjection } from './projections/leases.projection';

/** The schema this service owns (its SQL names it through this constant). */
export const BILLING_SCHEMA = 'billing';

/**
 * How the platform runs the billing service: its schema, migrations, events and topics. The registry knows
 * every event on the topics billing reads, so events it does not bill (placements, quotas, power) are recognised and
 * skipped rather than dead-lettered as unknown.
 */
export const billingService: ServiceOptions = {
  service: 'billing',
  schema: BILLING_SCHEMA,
  migrations: billingMigrations,
  registry: new EventRegistry([
    ...billing.allBillingEvents,
    ...metering.allMeteringEvents,
    ...allocation.allAllocationEvents,
    ...inventory.allInventoryEvents,
  ]),
  eventsTopic: ServiceKafkaTopics.billing.events,
  // Its subscriptions live with its Kafka ACLs (libs/contracts/src/kafka-acls.ts), so the two cannot drift.
  consumedTopics: [...ServiceKafkaTopics.billing.consumes],
  projections: [invoicesProjection, fleetHealthProjection, leasesProjection],
  openApi: {
    title: 'FleetLedger billing',
    description: 'Rating, invoices, commitments and SLA credits of FleetLedger.',
  },
};
