import { createEventStoreMigration } from '@fleetledger/eventstore';

/** The event store, outbox, inbox and checkpoints of the allocation schema. */
export const EventStoreAllocation1764000000000 = createEventStoreMigration('allocation', 1764000000000);
