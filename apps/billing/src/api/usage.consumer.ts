import { Injectable, OnModuleInit } from '@nestjs/common';
import { Topics } from '@fleetledger/contracts';
import { Messaging } from '@fleetledger/platform';
import { LEASE_EVENT_TYPES, USAGE_EVENT_TYPES, UsageRater } from '../handlers/usage-rater';
import { USAGE_CONSUMER } from '../projections/leases.projection';

export { USAGE_CONSUMER };

/** Consumes metering's usage and allocation's lease events; every effect commits with its inbox row. */
@Injectable()
export class UsageConsumer implements OnModuleInit {
  constructor(
    private readonly messaging: Messaging,
    private readonly rater: UsageRater,
  ) {}

  onModuleInit(): void {
    this.messaging.registerConsumer({
      name: USAGE_CONSUMER,
      topics: [Topics.meteringEvents, Topics.allocationEvents],
      accepts: (type) => USAGE_EVENT_TYPES.has(type) || LEASE_EVENT_TYPES.has(type),
      handle: (event, tx) => this.rater.handle(event, tx),
      // A Kafka batch of usage records is rated in one go: one decision and one append per invoice.
      handleBatch: (events, tx) => this.rater.handleBatch(events, tx),
    });
  }
}
