import { Injectable, OnModuleInit } from '@nestjs/common';
import { Topics } from '@fleetledger/contracts';
import { EventStore } from '@fleetledger/eventstore';
import { Messaging } from '@fleetledger/platform';
import { FLEET_HEALTH_EVENT_TYPES } from '../domain/fleet-events';
import { FLEET_HEALTH_CONSUMER, fleetHealthProjection } from '../projections/fleet-health.projection';

export { FLEET_HEALTH_CONSUMER };

/**
 * Consumes inventory's GPU health events (for SLA credits) into the fleet-health projection, in the inbox
 * transaction. A consumer of its own: health events of a 220,000-GPU fleet must not queue behind usage rating,
 * and the two topics are not ordered with each other anyway.
 */
@Injectable()
export class FleetHealthConsumer implements OnModuleInit {
  constructor(
    private readonly messaging: Messaging,
    private readonly store: EventStore,
  ) {}

  onModuleInit(): void {
    this.messaging.registerConsumer({
      name: FLEET_HEALTH_CONSUMER,
      topics: [Topics.inventoryEvents],
      accepts: (type) => FLEET_HEALTH_EVENT_TYPES.has(type),
      handle: (event, tx) => fleetHealthProjection.apply(tx, event, this.store.schema),
    });
  }
}
