import type { billing } from '@fleetledger/contracts';

export type RatePlanVersion = billing.RatePlanPublishedPayload;
export type ClassPrice = RatePlanVersion['classes'][number];

/**
 * The version of a plan that rates a given instant: the latest `effectiveFrom` at or before it; on equal
 * `effectiveFrom` the higher version wins. Undefined when no version was in effect yet.
 */
export function planInEffect(
  versions: readonly RatePlanVersion[],
  atMs: number,
): RatePlanVersion | undefined {
  let chosen: RatePlanVersion | undefined;
  let chosenFromMs = -Infinity;
  for (const version of versions) {
    const fromMs = effectiveFromMs(version);
    if (fromMs > atMs) continue;
    if (fromMs > chosenFromMs || (fromMs === chosenFromMs && chosen && version.version > chosen.version)) {
      chosen = version;
      chosenFromMs = fromMs;
    }
  }
  return chosen;
}

export function classPrice(plan: RatePlanVersion, gpuClass: string): ClassPrice | undefined {
  return plan.classes.find((price) => price.gpuClass === gpuClass);
}

export type PublishRejection = {
  kind: 'rejected';
  reason: 'version-not-next' | 'duplicate-class' | 'currency-changed';
  detail: string;
};

/** A new version must be the next number and keep the plan's currency; classes appear once. */
export function decidePublish(
  existing: readonly RatePlanVersion[],
  next: RatePlanVersion,
): RatePlanVersion | PublishRejection {
  const expected = existing.length + 1;
  if (next.version !== expected) {
    return {
      kind: 'rejected',
      reason: 'version-not-next',
      detail: `plan ${next.ratePlanId} expects version ${expected}, got ${next.version}`,
    };
  }
  const classes = new Set(next.classes.map((price) => price.gpuClass));
  if (classes.size !== next.classes.length) {
    return {
      kind: 'rejected',
      reason: 'duplicate-class',
      detail: 'each GPU class may be priced once per version',
    };
  }
  const first = existing[0];
  if (first && first.currency.code !== next.currency.code) {
    return {
      kind: 'rejected',
      reason: 'currency-changed',
      detail: `plan ${next.ratePlanId} bills in ${first.currency.code}; publish a new plan for ${next.currency.code}`,
    };
  }
  return next;
}

// A version never changes (RatePlanPublished is never edited), so its parsed start is cached with it.
const effectiveFromCache = new WeakMap<RatePlanVersion, number>();
function effectiveFromMs(version: RatePlanVersion): number {
  let ms = effectiveFromCache.get(version);
  if (ms === undefined) {
    ms = Date.parse(version.effectiveFrom);
    effectiveFromCache.set(version, ms);
  }
  return ms;
}
