import { createEventLogSealMigration } from '@fleetledger/eventstore';

/** Hands the allocation event log to the event-log role: this service may read and append, never rewrite it. */
export const SealEventLogAllocation1765000000000 = createEventLogSealMigration('allocation', 1765000000000);
