import type { ServiceOptions } from '@fleetledger/platform';
import { allocationService } from '../../allocation/src/allocation.options';
import { billingService } from '../../billing/src/billing.options';
import { inventoryService } from '../../inventory/src/inventory.options';
import { meteringService } from '../../metering/src/metering.options';

/**
 * The services whose logs the audit reads. The audit tool is not a service: it reads every schema
 * of a database copy, with each service's own contracts and projection definitions.
 */
export const auditedServices: ServiceOptions[] = [
  inventoryService,
  allocationService,
  meteringService,
  billingService,
];
