import { Injectable, OnModuleInit } from '@nestjs/common';
import { inventory, Topics } from '@fleetledger/contracts';
import { Messaging } from '@fleetledger/platform';
import { AllocationEngine } from '../handlers/allocation-engine';
import { INVENTORY_CONSUMER } from '../projections/fleet-gpus.projection';

/** Takes inventory's events into the capacity view, exactly once (inbox), evicting work on lost GPUs. */
@Injectable()
export class InventoryConsumer implements OnModuleInit {
  constructor(
    private readonly messaging: Messaging,
    private readonly engine: AllocationEngine,
  ) {}

  onModuleInit(): void {
    this.messaging.registerConsumer({
      name: INVENTORY_CONSUMER,
      topics: [Topics.inventoryEvents],
      // Inventory's watermark markers (issue #22) are for billing's SLA credits: nothing for allocation to act on.
      accepts: (type) => type.startsWith('inventory.') && type !== inventory.PartitionWatermarkAdvanced.type,
      handle: (event, tx) => this.engine.onInventoryEvent(event, tx),
    });
  }
}
