import { createConcurrentAppendMigration } from '@fleetledger/eventstore';

/**
 * Concurrent appends for the allocation log (issue #19): positions from a sequence, a read horizon, the hash chain
 * sealed behind the writers in event_chain, one-call appends, a compact outbox.
 */
export const ConcurrentAppendAllocation1767000000000 = createConcurrentAppendMigration(
  'allocation',
  1767000000000,
);
