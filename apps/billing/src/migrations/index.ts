import { EventStoreBilling1764000000000 } from './1764000000000-event-store';
import { BillingReadModels1764000000100 } from './1764000000100-billing-read-models';
import { BillingFleetHealth1764000000200 } from './1764000000200-fleet-health';
import { BillingFleetHealthPosition1764000000300 } from './1764000000300-fleet-health-position';
import { SealEventLogBilling1765000000000 } from './1765000000000-seal-event-log';
import { BillingCompleteness1766100000000 } from './1766100000000-completeness';

/** Every migration of the billing schema, oldest first. Never edit one that has shipped: add a new one. */
export const billingMigrations = [
  EventStoreBilling1764000000000,
  BillingReadModels1764000000100,
  BillingFleetHealth1764000000200,
  BillingFleetHealthPosition1764000000300,
  SealEventLogBilling1765000000000,
  BillingCompleteness1766100000000,
];
