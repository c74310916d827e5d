import { EventStoreAllocation1764000000000 } from './1764000000000-event-store';
import { AllocationProjections1764000000100 } from './1764000000100-allocation-projections';
import { SealEventLogAllocation1765000000000 } from './1765000000000-seal-event-log';
import { PlacementRouting1766000000000 } from './1766000000000-placement-routing';
import { QueueOrder1766000000100 } from './1766000000100-queue-order';
import { WorkloadHistory1766000000200 } from './1766000000200-workload-history';
import { ConcurrentAppendAllocation1767000000000 } from './1767000000000-concurrent-append';

/** Every migration of the allocation schema, oldest first. Never edit one that has shipped: add a new one. */
export const allocationMigrations = [
  EventStoreAllocation1764000000000,
  AllocationProjections1764000000100,
  SealEventLogAllocation1765000000000,
  PlacementRouting1766000000000,
  QueueOrder1766000000100,
  WorkloadHistory1766000000200,
  ConcurrentAppendAllocation1767000000000,
];
