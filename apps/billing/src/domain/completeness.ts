import { periodBounds } from './periods';

/**
 * Issue #22: is an invoice's period complete, and may it be finalized? Pure rules.
 *
 * An invoice is final only when every input that feeds it has provably passed the end of its period:
 * - the period has ended (on the wall clock);
 * - metering's watermark (the minimum over every partition of metering's topic of the latest
 *   UsageWindowsClosed billing has handled) has passed the period end. Billing rates usage in the
 *   same transaction as it takes the event in, so a handled marker means every usage record before
 *   it on that partition is rated (or held, below): there is no separate "rating in flight";
 * - when the invoice has SLA credit terms (a rate plan of its leases has credit tiers), inventory's watermark
 *   (the same minimum over inventory's topic, recorded by the fleet-health consumer with the health events
 *   before it) has passed the period end: credits are computed from those health events;
 * - no usage hold of the tenant is pending (usage that waits for its lease or rate plan).
 * Complete, it still waits for the grace period after the period end (per rate plan, overridable
 * per tenant; BILLING_FINALIZATION_GRACE_MS by default: one hour, as Stripe's default), then the
 * scheduler finalizes it on its own. An operator (finance) may force an incomplete draft final only
 * with a written reason, which the InvoiceFinalized event, the invoice and `audit explain` show.
 *
 * `coveredUntil` is the instant up to which every input is complete for this invoice: a draft
 * shows no usage charge for an hour that starts at or after it.
 */
export type MissingInput =
  | { input: 'period'; reason: 'period-not-ended'; until: string; detail: string }
  | { input: 'metering'; reason: 'metering-behind'; watermark: string | null; detail: string }
  | { input: 'inventory'; reason: 'inventory-behind'; watermark: string | null; detail: string }
  | { input: 'usage-holds'; reason: 'usage-holds-pending'; count: number; detail: string }
  | { input: 'grace'; reason: 'grace-period'; until: string; detail: string };

export interface CompletenessFacts {
  period: string;
  nowMs: number;
  /** null: billing has not handled a marker from every partition of metering's topic yet. */
  meteringWatermarkMs: number | null;
  /**
   * Inventory's watermark (null: not from every partition yet). Undefined when the invoice does not need it:
   * no SLA credit terms, or a deployment that runs with BILLING_INVENTORY_WATERMARK=ignored (story time).
   */
  inventoryWatermarkMs?: number | null;
  pendingHolds: number;
  graceMs: number;
}

export interface Completeness {
  coveredUntil: string;
  /** Every input has passed the period end (the grace may still be running). */
  complete: boolean;
  /** Complete and the grace has elapsed: `finalize` goes through, the scheduler finalizes it. */
  finalizable: boolean;
  /** When the grace ends (period end + grace): the earliest automatic finalization. */
  finalizableFrom: string;
  /** Everything that keeps it from being finalizable, each with its reason. */
  missing: MissingInput[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export function periodCompleteness(facts: CompletenessFacts): Completeness {
  const { startMs, endMs } = periodBounds(facts.period);
  const watermark = facts.meteringWatermarkMs;
  const inventory = facts.inventoryWatermarkMs;
  const coveredUntilMs = Math.max(
    startMs,
    Math.min(endMs, watermark ?? startMs, inventory === undefined ? endMs : (inventory ?? startMs)),
  );
  const graceEndMs = endMs + facts.graceMs;
  const missing: MissingInput[] = [];
  if (facts.nowMs < endMs)
    missing.push({
      input: 'period',
      reason: 'period-not-ended',
      until: iso(endMs),
      detail: `the period ${facts.period} ends at ${iso(endMs)}`,
    });
  if (watermark === null || watermark < endMs)
    missing.push({
      input: 'metering',
      reason: 'metering-behind',
      watermark: watermark === null ? null : iso(watermark),
      detail:
        watermark === null
          ? 'metering has not reported closing any hour on every partition yet'
          : `metering has closed usage before ${iso(watermark)} only, ${Math.round((endMs - watermark) / 60_000)} min short of the period end ${iso(endMs)}`,
    });
  if (inventory !== undefined && (inventory === null || inventory < endMs))
    missing.push({
      input: 'inventory',
      reason: 'inventory-behind',
      watermark: inventory === null ? null : iso(inventory),
      detail:
        inventory === null
          ? 'inventory has not published a watermark on every partition yet (SLA credits need its health events)'
          : `inventory has published every health event before ${iso(inventory)} only, ${Math.round((endMs - inventory) / 60_000)} min short of the period end ${iso(endMs)} (SLA credits need them)`,
    });
  if (facts.pendingHolds > 0)
    missing.push({
      input: 'usage-holds',
      reason: 'usage-holds-pending',
      count: facts.pendingHolds,
      detail: `${facts.pendingHolds} usage event(s) of the tenant wait for their lease or rate plan (GET /usage-holds)`,
    });
  const complete = missing.length === 0;
  if (complete && facts.nowMs < graceEndMs)
    missing.push({
      input: 'grace',
      reason: 'grace-period',
      until: iso(graceEndMs),
      detail: `the grace period after the period end runs until ${iso(graceEndMs)}`,
    });
  return {
    coveredUntil: iso(coveredUntilMs),
    complete,
    finalizable: missing.length === 0,
    finalizableFrom: iso(graceEndMs),
    missing,
  };
}

export { inputWatermarkMs } from '@fleetledger/contracts';

/** The detail of a 409 `period-incomplete`: each missing input, by name. */
export function incompleteDetail(invoiceId: string, completeness: Completeness): string {
  return `invoice ${invoiceId} cannot be finalized yet: ${completeness.missing
    .map((m) => `${m.input}: ${m.detail}`)
    .join('; ')}. Finance may force it with a written reason ({"force": {"reason": "..."}})`;
}

/**
 * The grace of an invoice: the tenant's override, else the longest grace of the rate plans its
 * leases use in the period, else the default.
 */
export function graceFor(
  tenantId: string,
  planGracesMs: readonly (number | undefined)[],
  tenantOverridesMs: Readonly<Record<string, number>>,
  defaultMs: number,
): number {
  if (tenantOverridesMs[tenantId] !== undefined) return tenantOverridesMs[tenantId];
  const plans = planGracesMs.filter((g): g is number => g !== undefined);
  return plans.length > 0 ? Math.max(...plans) : defaultMs;
}
