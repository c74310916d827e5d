import { createEventLogSealMigration } from '@fleetledger/eventstore';

/** Hands the inventory event log to the event-log role: this service may read and append, never rewrite it. */
export const SealEventLogInventory1765000000000 = createEventLogSealMigration('inventory', 1765000000000);
