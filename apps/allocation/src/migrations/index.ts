import { EventStoreAllocation1764000000000 } from './1764000000000-event-store';

/** Every migration of the allocation schema, oldest first. Never edit one that has shipped: add a new one. */
export const allocationMigrations = [EventStoreAllocation1764000000000];
