import { EventStoreInventory1764000000000 } from './1764000000000-event-store';

/** Every migration of the inventory schema, oldest first. Never edit one that has shipped: add a new one. */
export const inventoryMigrations = [EventStoreInventory1764000000000];
