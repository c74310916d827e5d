import { Inject, Injectable } from '@nestjs/common';
import { Queryable } from '@fleetledger/eventstore';
import { BILLING_ENV, BillingEnv } from '../billing.config';
import { Completeness, graceFor, inputWatermarkMs, periodCompleteness } from '../domain/completeness';
import { WatermarkInput } from '../handlers/input-watermarks';
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
  meteringProgress(db: Queryable) {
    return this.inputProgress(db, 'metering');
  }

  /** An input's watermark as billing has handled it (null: not from every partition yet), and each partition's. */
  async inputProgress(db: Queryable, input: WatermarkInput) {
    const rows = await db.query<{ partition: number; partitions: number; watermark: Date }[]>(
      `SELECT partition, partitions, watermark FROM billing.input_watermarks WHERE input = $1 ORDER BY partition`,
      [input],
    );
    const marks = rows.map((r) => ({
      partition: r.partition,
      partitions: r.partitions,
      watermarkMs: r.watermark.getTime(),
    }));
    return { watermarkMs: inputWatermarkMs(marks), marks };
  }

  async of(db: Queryable, tenantId: string, period: string, nowMs: number): Promise<Completeness> {
    const { watermarkMs } = await this.meteringProgress(db);
    const [{ n }] = await db.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM billing.usage_holds WHERE tenant_id = $1 AND status = 'pending'`,
      [tenantId],
    );
    const context = await this.billing.context(db, tenantId);
    const versions = [...new Set(context.leases.flatMap(ratePlanIdsOf))].flatMap((ratePlanId) =>
      context.planVersions(ratePlanId),
    );
    const planGraces = versions.map((version) => version.finalizationGraceMs);
    // SLA credits come from inventory's health events: only invoices with credit terms wait for inventory.
    const needsInventory =
      this.env.BILLING_INVENTORY_WATERMARK === 'required' &&
      versions.some((version) => version.slaCreditTiers.length > 0);
    return periodCompleteness({
      period,
      nowMs,
      meteringWatermarkMs: watermarkMs,
      inventoryWatermarkMs: needsInventory
        ? (await this.inputProgress(db, 'inventory')).watermarkMs
        : undefined,
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
