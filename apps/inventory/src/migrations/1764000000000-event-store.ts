import { createEventStoreMigration } from '@fleetledger/eventstore';

/** The event store, outbox, inbox and checkpoints of the inventory schema. */
export const EventStoreInventory1764000000000 = createEventStoreMigration('inventory', 1764000000000);
