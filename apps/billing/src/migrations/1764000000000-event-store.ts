import { createEventStoreMigration } from '@fleetledger/eventstore';

/** The event store, outbox, inbox and checkpoints of the billing schema. */
export const EventStoreBilling1764000000000 = createEventStoreMigration('billing', 1764000000000);
