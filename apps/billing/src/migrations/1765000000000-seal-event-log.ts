import { createEventLogSealMigration } from '@fleetledger/eventstore';

/** Hands the billing event log to the event-log role: this service may read and append, never rewrite it. */
export const SealEventLogBilling1765000000000 = createEventLogSealMigration('billing', 1765000000000);
