import { createConcurrentAppendMigration } from '@fleetledger/eventstore';

/**
 * Concurrent appends for the billing log (issue #19): positions from a sequence, a read horizon, the hash chain
 * sealed behind the writers in event_chain, one-call appends, a compact outbox.
 */
export const ConcurrentAppendBilling1767000000000 = createConcurrentAppendMigration('billing', 1767000000000);
