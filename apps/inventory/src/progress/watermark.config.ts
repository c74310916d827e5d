import { z } from 'zod';
import { formatZodError } from '@fleetledger/contracts';

/** Inventory's watermark settings (issue #22), validated at start; as allocation's. */
export const inventoryWatermarkEnvSchema = z.object({
  /** How often the heartbeat advances the watermark (one marker per partition, none when it did not move); 0: off. */
  INVENTORY_WATERMARK_INTERVAL_MS: z.coerce.number().int().min(0).default(10_000),
  /**
   * The heartbeat keeps the watermark this far behind the wall clock: how far in the past a command may still be
   * stamped (older ones are refused with `stale-command` once a marker has passed them).
   */
  INVENTORY_WATERMARK_LAG_MS: z.coerce.number().int().min(0).default(60_000),
});
export type InventoryWatermarkEnv = z.infer<typeof inventoryWatermarkEnvSchema>;

export function parseInventoryWatermarkEnv(env: Record<string, string | undefined>): InventoryWatermarkEnv {
  const parsed = inventoryWatermarkEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(`invalid inventory environment: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
