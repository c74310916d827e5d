import { createConcurrentAppendMigration } from '@fleetledger/eventstore';

/**
 * Concurrent appends for the metering log (issue #19): positions from a sequence, a read horizon, the hash chain
 * sealed behind the writers in event_chain, one-call appends, a compact outbox.
 */
export const ConcurrentAppendMetering1767000000000 = createConcurrentAppendMigration(
  'metering',
  1767000000000,
);
