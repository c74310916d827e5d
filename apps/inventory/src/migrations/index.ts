import { EventStoreInventory1764000000000 } from './1764000000000-event-store';
import { FleetProjections1764000000100 } from './1764000000100-fleet-projections';
import { ClassHealthCounts1764000000200 } from './1764000000200-class-health-counts';
import { SealEventLogInventory1765000000000 } from './1765000000000-seal-event-log';
import { ConcurrentAppendInventory1767000000000 } from './1767000000000-concurrent-append';

/** Every migration of the inventory schema, oldest first. Never edit one that has shipped: add a new one. */
export const inventoryMigrations = [
  EventStoreInventory1764000000000,
  FleetProjections1764000000100,
  ClassHealthCounts1764000000200,
  SealEventLogInventory1765000000000,
  ConcurrentAppendInventory1767000000000,
];
