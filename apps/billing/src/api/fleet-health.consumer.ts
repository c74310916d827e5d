import { Injectable, OnModuleInit } from '@nestjs/common';
import { inventory, isEvent, Topics } from '@fleetledger/contracts';
import { EventStore } from '@fleetledger/eventstore';
import { Messaging } from '@fleetledger/platform';
import { FLEET_HEALTH_EVENT_TYPES } from '../domain/fleet-events';
import { recordInputWatermark } from '../handlers/input-watermarks';
import { FLEET_HEALTH_CONSUMER, fleetHealthProjection } from '../projections/fleet-health.projection';

export { FLEET_HEALTH_CONSUMER };

/**
 * Consumes inventory's GPU health events (for SLA credits) into the fleet-health projection, in the inbox
 * transaction. A consumer of its own: health events of a 220,000-GPU fleet must not queue behind usage rating,
 * and the two topics are not ordered with each other anyway. Issue #22: it also records inventory's watermark
 * markers (billing.input_watermarks, input 'inventory'), in the same transaction as the health events before
 * them on that partition, so SLA credits are final only once inventory has passed the period end.
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
      accepts: (type) =>
        FLEET_HEALTH_EVENT_TYPES.has(type) || type === inventory.PartitionWatermarkAdvanced.type,
      handle: (event, tx) =>
        isEvent(inventory.PartitionWatermarkAdvanced, event)
          ? recordInputWatermark(tx, 'inventory', event.payload, event.eventId)
          : fleetHealthProjection.apply(tx, event, this.store.schema),
    });
  }
}
