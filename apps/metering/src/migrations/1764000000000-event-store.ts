import { createEventStoreMigration } from '@fleetledger/eventstore';

/** The event store, outbox, inbox and checkpoints of the metering schema. */
export const EventStoreMetering1764000000000 = createEventStoreMigration('metering', 1764000000000);
