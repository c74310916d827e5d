import { Injectable } from '@nestjs/common';
import type { billing } from '@fleetledger/contracts';
import { runInTransaction } from '@fleetledger/eventstore';
import { DataSource } from 'typeorm';
import { billingError } from '../billing-errors';
import { decidePublish } from '../domain/rate-plans';
import { AppendMeta, BillingStore } from './billing-store';
import { UsageRater } from './usage-rater';

/** Publishes a new version of a rate plan; usage held for want of a plan is rated right after. */
@Injectable()
export class RatePlanHandler {
  constructor(
    private readonly dataSource: DataSource,
    private readonly billing: BillingStore,
    private readonly rater: UsageRater,
  ) {}

  async publish(plan: billing.RatePlanPublishedPayload, publishedAt: string, meta: AppendMeta) {
    return runInTransaction(this.dataSource, async (tx) => {
      const existing = await this.billing.planVersions(tx, plan.ratePlanId);
      const decision = decidePublish(existing, plan);
      if ('kind' in decision) throw billingError(decision);
      const streamId = `rate-plan-${plan.ratePlanId}`;
      const [event] = await this.billing.append(
        tx,
        [
          {
            streamId,
            expectedVersion: existing.length,
            events: [{ type: 'billing.RatePlanPublished', payload: decision, occurredAt: publishedAt }],
          },
        ],
        meta,
      );
      await this.rater.retryHeld(tx, { ratePlanId: plan.ratePlanId });
      return event;
    });
  }
}
