import { z } from 'zod';
import { formatZodError } from '@fleetledger/contracts';

/** Allocation's watermark settings (issue #22), validated at start. */
export const watermarkEnvSchema = z.object({
  /**
   * How often the heartbeat tries to advance the watermark; 0 disables it. At most one marker per partition per
   * tick, none when it did not move. 10 s by default: markers live in the log allocation replays at start, and
   * 1 s would add 3 events a second (260,000 a day) to it, for hours that close 5 minutes after their end anyway.
   */
  ALLOCATION_WATERMARK_INTERVAL_MS: z.coerce.number().int().min(0).default(10_000),
  /**
   * `true` (production): the heartbeat follows the wall clock minus ALLOCATION_WATERMARK_LAG_MS, so an
   * idle ledger does not hold metering back, and commands stamped further in the past are refused.
   * `false`: the watermark follows only the ledger's own decisions and operators (a story told in the
   * past: tests, demos, backfills).
   */
  ALLOCATION_WATERMARK_FOLLOWS_CLOCK: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** How far in the past a command may still be stamped (the heartbeat's distance behind the clock). */
  ALLOCATION_WATERMARK_LAG_MS: z.coerce.number().int().min(0).default(60_000),
});
export type WatermarkEnv = z.infer<typeof watermarkEnvSchema>;

export function parseWatermarkEnv(env: Record<string, string | undefined>): WatermarkEnv {
  const parsed = watermarkEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid allocation environment: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
