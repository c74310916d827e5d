import { Injectable } from '@nestjs/common';
import { Topics } from '@fleetledger/contracts';
import { Messaging } from '@fleetledger/platform';
import { INVENTORY_CONSUMER } from '../projections/fleet-gpus.projection';
import { AllocationEngine } from './allocation-engine';

/** Takes inventory's events into the capacity view, exactly once (inbox), evicting work on lost GPUs. */
@Injectable()
export class InventoryConsumer {
  constructor(messaging: Messaging, engine: AllocationEngine) {
    messaging.registerConsumer({
      name: INVENTORY_CONSUMER,
      topics: [Topics.inventoryEvents],
      accepts: (type) => type.startsWith('inventory.'),
      handle: (event, tx) => engine.onInventoryEvent(event, tx),
    });
  }
}
