/**
 * The fleet's power model, one for inventory and allocation (issue #15, 3).
 *
 * A node's nominal power (`nominalPowerW`) is its draw with every GPU busy. An idle node still
 * draws `IDLE_POWER_PERCENT` of it (CPUs, fans, NICs, GPUs at idle clocks); each busy GPU adds its
 * share of the rest. So:
 *
 *   draw(node) = idle + (nominal - idle) * busyGpus / gpus
 *
 * Budgets (site, hall, rack) are caps on that draw. Inventory accepts a budget below the nominal
 * draw of what is commissioned (that is what a cap on a 300 MW site is for) but not below its idle
 * draw, which no placement decision could ever bring under the cap. Allocation counts the idle draw
 * of every commissioned node plus the share of every allocated GPU, and admits a placement only while
 * every budget above it keeps headroom for it.
 */
export const IDLE_POWER_PERCENT = 30;

/** Idle draw of a node (or of a sum of nominal draws, rounded down), in watts. */
export function idleDrawW(nominalPowerW: number): number {
  return Math.floor((nominalPowerW * IDLE_POWER_PERCENT) / 100);
}

/** Draw of a node with `busyGpus` of its `gpus` allocated, in watts. */
export function nodeDrawW(nominalPowerW: number, gpus: number, busyGpus: number): number {
  const idle = idleDrawW(nominalPowerW);
  return idle + (gpus > 0 ? Math.floor(((nominalPowerW - idle) * busyGpus) / gpus) : 0);
}
