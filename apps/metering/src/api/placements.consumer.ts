import { Injectable, OnModuleInit } from '@nestjs/common';
import { allocation, Topics } from '@fleetledger/contracts';
import { Messaging } from '@fleetledger/platform';
import { PlacementsHandler } from '../placements/placements.handler';

export const PLACEMENTS_CONSUMER = 'metering-placements';

const PLACEMENT_TYPES = new Set<string>([
  allocation.WorkloadPlaced.type,
  allocation.WorkloadReleased.type,
  allocation.WorkloadPreempted.type,
  allocation.WorkloadEvicted.type,
]);

/** Allocation's placement events, through the inbox (exactly once in effect), into attribution intervals. */
@Injectable()
export class PlacementsConsumer implements OnModuleInit {
  constructor(
    private readonly messaging: Messaging,
    private readonly placements: PlacementsHandler,
  ) {}

  onModuleInit(): void {
    this.messaging.registerConsumer({
      name: PLACEMENTS_CONSUMER,
      topics: [Topics.allocationEvents],
      // Allocation's watermarks (issue #22) travel in the same partitions, so this consumer (not another
      // group) must take them: handling a marker then proves every placement before it was handled.
      accepts: (type) => PLACEMENT_TYPES.has(type) || type === allocation.PartitionWatermarkAdvanced.type,
      handle: (event, tx) => this.placements.handle(event, tx),
    });
  }
}
