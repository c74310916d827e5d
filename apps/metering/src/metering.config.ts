import { z } from 'zod';
import { formatZodError } from '@fleetledger/contracts';

/** Metering's own settings, validated at start next to the platform's (fail fast, clear message). */
export const meteringEnvSchema = z.object({
  /** How long after an hour ends its window stays open for late samples. */
  METERING_LATENESS_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(5 * 60_000),
  /** How often the window closer runs on the wall clock; 0 disables it (tests close explicitly). */
  METERING_CLOSE_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
  /**
   * Issue #22: `required` (production): an hour closes only once allocation's placement watermark
   * (min over all partitions) has passed its end, besides the lateness. `ignored`: the lateness alone
   * (placements published by hand, without a producer that publishes progress: some tests).
   */
  METERING_PLACEMENT_WATERMARK: z.enum(['required', 'ignored']).default('required'),
  /** Partitions of the telemetry topic processed at once by one instance. */
  METERING_TELEMETRY_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
});

export type MeteringEnv = z.infer<typeof meteringEnvSchema>;
export const METERING_ENV = Symbol('METERING_ENV');

export function parseMeteringEnv(env: Record<string, string | undefined>): MeteringEnv {
  const parsed = meteringEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid metering environment: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
