/**
 * mulberry32: a tiny, well-distributed, seedable 32-bit PRNG, so a seed always gives the same fleet,
 * telemetry or benchmark run. Enough for simulation, not for secrets. The one copy: inventory's fleet
 * generator, metering's node-agent simulator, the tests and the benchmarks all draw from it, so the
 * same seed gives the same sequence everywhere.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
