import { EventStoreBilling1764000000000 } from './1764000000000-event-store';

/** Every migration of the billing schema, oldest first. Never edit one that has shipped: add a new one. */
export const billingMigrations = [EventStoreBilling1764000000000];
