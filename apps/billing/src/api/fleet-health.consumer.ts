import { Injectable, OnModuleInit } from '@nestjs/common';
import { Topics } from '@fleetledger/contracts';
import { Messaging } from '@fleetledger/platform';
import { FLEET_HEALTH_EVENT_TYPES } from '../domain/fleet-events';
import { FleetHealthRecorder } from '../handlers/fleet-health.recorder';

export const FLEET_HEALTH_CONSUMER = 'billing-fleet-health';

/**
 * Consumes inventory's GPU health events (for SLA credits). A consumer of its own: health events of a 220,000-GPU
 * fleet must not queue behind usage rating, and the two topics are not ordered with each other anyway.
 */
@Injectable()
export class FleetHealthConsumer implements OnModuleInit {
  constructor(
    private readonly messaging: Messaging,
    private readonly recorder: FleetHealthRecorder,
  ) {}

  onModuleInit(): void {
    this.messaging.registerConsumer({
      name: FLEET_HEALTH_CONSUMER,
      topics: [Topics.inventoryEvents],
      accepts: (type) => FLEET_HEALTH_EVENT_TYPES.has(type),
      handle: (event, tx) => this.recorder.handle(event, tx),
    });
  }
}
