import { z } from 'zod';
import { formatZodError } from '@fleetledger/contracts';

/** Billing's own settings (issue #22: finalization), validated at start (fail fast, clear message). */
export const billingEnvSchema = z.object({
  /**
   * Default grace after a period ends before a complete invoice is finalized on its own: one hour, as
   * Stripe's default. A rate plan's `finalizationGraceMs` overrides it; a tenant's override wins over both.
   */
  BILLING_FINALIZATION_GRACE_MS: z.coerce.number().int().min(0).default(3_600_000),
  /** Per-tenant grace overrides, JSON `{"tenant": ms}`. */
  BILLING_FINALIZATION_GRACE_BY_TENANT: z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      try {
        const parsed = z.record(z.string(), z.number().int().nonnegative()).parse(JSON.parse(text));
        return parsed as Record<string, number>;
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `not a JSON map of tenant to ms: ${(error as Error).message}`,
        });
        return z.NEVER;
      }
    }),
  /**
   * Issue #22: `required` (production): an invoice with SLA credit terms is complete only once inventory's
   * watermark (inventory.PartitionWatermarkAdvanced on every partition) has passed its period end. `ignored`:
   * SLA credits do not wait for it (tests and stories told in the past without inventory's heartbeat, as
   * METERING_PLACEMENT_WATERMARK; libs/testing/src/service-app.ts).
   */
  BILLING_INVENTORY_WATERMARK: z.enum(['required', 'ignored']).default('required'),
  /** How often complete drafts past their grace are finalized on their own; 0 disables the scheduler. */
  BILLING_AUTO_FINALIZE_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
});

export type BillingEnv = z.infer<typeof billingEnvSchema>;
export const BILLING_ENV = Symbol('BILLING_ENV');

export function parseBillingEnv(env: Record<string, string | undefined>): BillingEnv {
  const parsed = billingEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid billing environment: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
