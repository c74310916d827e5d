import type { billing } from '@fleetledger/contracts';
import { BASIS_POINTS_PER_WHOLE, divideRoundHalfEven } from './money';

export type SlaCreditTier = billing.RatePlanPublishedPayload['slaCreditTiers'][number];

/**
 * SLA credits. Availability of a lease's class in a period is the share of its committed GPU-time that was
 * healthy: (committed - unavailable) / committed, in basis points, rounded DOWN: at a tier boundary the
 * rounding can only favour the tenant (99.899 % counts as 99.89 %, below a 99.90 % threshold).
 */
export function availabilityBasisPoints(committedGpuSeconds: bigint, unavailableGpuSeconds: bigint): number {
  if (committedGpuSeconds <= 0n) return 10_000;
  const healthy =
    committedGpuSeconds -
    (unavailableGpuSeconds > committedGpuSeconds ? committedGpuSeconds : unavailableGpuSeconds);
  return Number((healthy * BASIS_POINTS_PER_WHOLE) / committedGpuSeconds);
}

/** The most generous tier whose threshold the availability is strictly below; undefined when none applies. */
export function applicableTier(
  tiers: readonly SlaCreditTier[],
  availabilityBp: number,
): SlaCreditTier | undefined {
  let chosen: SlaCreditTier | undefined;
  for (const tier of tiers) {
    if (
      availabilityBp < tier.availabilityBelowBasisPoints &&
      (!chosen || tier.creditBasisPoints > chosen.creditBasisPoints)
    ) {
      chosen = tier;
    }
  }
  return chosen;
}

/** The credit: a share of the period's committed charges of that class, rounded once, half to even. */
export function slaCreditMinor(committedChargesMinor: bigint, creditBasisPoints: number): bigint {
  return divideRoundHalfEven(committedChargesMinor * BigInt(creditBasisPoints), BASIS_POINTS_PER_WHOLE);
}
