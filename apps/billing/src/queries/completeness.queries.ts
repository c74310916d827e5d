import { Inject, Injectable } from '@nestjs/common';
import { Queryable } from '@fleetledger/eventstore';
import { BILLING_ENV, BillingEnv } from '../billing.config';
import { Completeness, graceFor, meteringWatermarkMs, periodCompleteness } from '../domain/completeness';
import { ratePlanIdsOf } from '../domain/leases';
import { BillingStore } from '../handlers/billing-store';

/** Issue #22: the facts a period's completeness is decided on, read from billing's own tables. */
@Injectable()
export class CompletenessQueries {
  constructor(
    private readonly billing: BillingStore,
    @Inject(BILLING_ENV) private readonly env: BillingEnv,
  ) {}

  /** Metering's watermark as billing has handled it (null: not from every partition yet), and each partition's. */
  async meteringProgress(db: Queryable) {
    const rows = await db.query<{ partition: number; partitions: number; watermark: Date }[]>(
      `SELECT partition, partitions, watermark FROM billing.input_watermarks WHERE input = 'metering' ORDER BY partition`,
    );
    const marks = rows.map((r) => ({
      partition: r.partition,
      partitions: r.partitions,
      watermarkMs: r.watermark.getTime(),
    }));
    return { watermarkMs: meteringWatermarkMs(marks), marks };
  }

  async of(db: Queryable, tenantId: string, period: string, nowMs: number): Promise<Completeness> {
    const { watermarkMs } = await this.meteringProgress(db);
    const [{ n }] = await db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM billing.usage_holds WHERE tenant_id = $1 AND status = 'pending'`,
      [tenantId],
    );
    const context = await this.billing.context(db, tenantId);
    const planGraces = [...new Set(context.leases.flatMap(ratePlanIdsOf))].flatMap((ratePlanId) =>
      context.planVersions(ratePlanId).map((version) => version.finalizationGraceMs),
    );
    return periodCompleteness({
      period,
      nowMs,
      meteringWatermarkMs: watermarkMs,
      pendingHolds: n,
      graceMs: graceFor(
        tenantId,
        planGraces,
        this.env.BILLING_FINALIZATION_GRACE_BY_TENANT,
        this.env.BILLING_FINALIZATION_GRACE_MS,
      ),
    });
  }
}
