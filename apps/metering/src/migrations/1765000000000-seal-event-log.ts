import { createEventLogSealMigration } from '@fleetledger/eventstore';

/** Hands the metering event log to the event-log role: this service may read and append, never rewrite it. */
export const SealEventLogMetering1765000000000 = createEventLogSealMigration('metering', 1765000000000);
