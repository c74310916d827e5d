import { Injectable, OnModuleInit } from '@nestjs/common';
import { Topics } from '@fleetledger/contracts';
import { applyAll, EventStore } from '@fleetledger/eventstore';
import { Messaging } from '@fleetledger/platform';
import { HEALTH_EVENT_TYPES } from '../domain/fleet-capacity';
import { FLEET_CONSUMER, fleetProjection } from '../projections/fleet.projection';

/**
 * Takes inventory's events in (through the inbox: exactly once in effect) to know the fleet's
 * healthy GPUs per class over time: the denominator of "allocated / healthy fleet".
 */
@Injectable()
export class FleetConsumer implements OnModuleInit {
  constructor(
    private readonly messaging: Messaging,
    private readonly store: EventStore,
  ) {}

  onModuleInit(): void {
    this.messaging.registerConsumer({
      name: FLEET_CONSUMER,
      topics: [Topics.inventoryEvents],
      accepts: (type) => HEALTH_EVENT_TYPES.has(type),
      handle: (event, tx) => fleetProjection.apply(tx, event, this.store.schema),
      // A Kafka batch in one call: GPUs read once, counts folded, two writes (see the projection).
      handleBatch: (events, tx) => applyAll(tx, fleetProjection, events, this.store.schema),
    });
  }
}
