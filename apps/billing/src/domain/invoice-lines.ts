import type { billing } from '@fleetledger/contracts';
import { ClassOutage } from './availability';
import {
  committedMilliGpuSecondsOverSegments,
  fitsInDoubles,
  proratedMinimumOverSegmentsMinor,
  shortfallMinor,
  splitByCommitment,
  splitByCommitmentInDoubles,
} from './commitments';
import { CommitmentSegment, commitmentSegments, LeaseTerms } from './leases';
import {
  drawDownMonetaryCommitment,
  monetaryShortfallMinor,
  proratedMonetaryMinimumMinor,
  UsageAboveClassCommitment,
} from './monetary-commitment';
import { energyAmountMinor, gpuTimeAmountMinor, IntegerSum, parseInteger } from './money';
import { overlapSeconds, periodBounds } from './periods';
import { planInEffect, RatePlanVersion } from './rate-plans';
import { ChargeRated } from './rating';
import { applicableTier, availabilityBasisPoints, slaCreditMinor } from './sla';

export type InvoiceLine = billing.InvoiceLine;
export type Currency = billing.Currency;
export type { ClassOutage } from './availability';

export interface SlaCredit {
  leaseId: string;
  gpuClass: string;
  availabilityBasisPoints: number;
  creditBasisPoints: number;
  amountMinor: bigint;
  sourceEventIds: string[];
}

export interface InvoiceComposition {
  kind: 'composed';
  lines: InvoiceLine[];
  credits: SlaCredit[];
  totalMinor: bigint;
  currency: Currency;
}

export interface CompositionInput {
  period: string;
  charges: readonly ChargeRated[];
  /** The tenant's leases; those whose term misses the period are ignored. */
  leases: readonly LeaseTerms[];
  planVersions: (ratePlanId: string) => readonly RatePlanVersion[];
  outages?: readonly ClassOutage[];
  /** Set for a term-end invoice: the one lease it bills. */
  invoiceLeaseId?: string;
  /**
   * Leases whose commitment (take-or-pay, SLA credit) for this month is billed on another invoice: the
   * lease's term-end invoice, or the monthly invoice that billed it first. Their usage here is billed at the
   * base price, outside the commitment (`:outside-commitment` lines).
   */
  commitmentsBilledElsewhere?: ReadonlySet<string>;
}

export type CompositionRejection = {
  kind: 'rejected';
  reason: 'mixed-currencies' | 'no-rate-plan-in-effect' | 'nothing-to-bill';
  detail: string;
};

/**
 * The lines of one tenant's invoice for one month, from its charges and lease terms. Deterministic: the same
 * inputs give the same lines in the same order. Every line is quantity x unit price rounded once (money.ts),
 * and keeps the ids of the events it came from. Charges for hours outside the period (late corrections billed
 * on a later invoice) are billed at their base price as separate lines and do not touch this month's commitment.
 */
export function composeInvoiceLines(input: CompositionInput): InvoiceComposition | CompositionRejection {
  const bounds = periodBounds(input.period);
  const lines: InvoiceLine[] = [];
  const credits: SlaCredit[] = [];
  const currencies = new Set<string>();
  let currency: Currency | undefined;
  const noteCurrency = (value: Currency) => {
    currencies.add(`${value.code}/${value.minorUnitExponent}`);
    currency = value;
  };

  const chargesByLease = groupBy(input.charges, (charge) => charge.leaseId);
  const leases = input.leases.filter(
    (lease) =>
      overlapSeconds(lease.term, bounds) > 0n &&
      (input.invoiceLeaseId === undefined || lease.leaseId === input.invoiceLeaseId),
  );
  const leaseIds = [...new Set([...leases.map((lease) => lease.leaseId), ...chargesByLease.keys()])].sort();
  for (const leaseId of leaseIds) {
    const lease = leases.find((candidate) => candidate.leaseId === leaseId);
    const charges = chargesByLease.get(leaseId) ?? [];
    for (const charge of charges) noteCurrency(charge.currency);

    const usage = charges.filter((charge) => charge.kind === 'gpu-usage');
    const billedElsewhere = input.commitmentsBilledElsewhere?.has(leaseId) ?? false;
    // The term in this month, cut where amendments take effect: each piece has its commitment and plan.
    const segments = lease && !billedElsewhere ? commitmentSegments(lease, bounds) : [];
    const classes = new Set([
      ...usage.map((charge) => charge.gpuClass ?? ''),
      ...segments.flatMap((segment) => Object.keys(segment.committedGpus)),
    ]);
    // Phase 1: each class's hours, split by its GPU commitment.
    const prepared = [...classes].sort().map((gpuClass) => {
      const committedMilli = committedMilliGpuSecondsOverSegments(segments, gpuClass, input.period);
      const classUsage = usage.filter((charge) => (charge.gpuClass ?? '') === gpuClass);
      return { gpuClass, committedMilli, ...splitClassUsage(classUsage, committedMilli, bounds) };
    });
    // Phase 2: what exceeds the class commitments draws the lease's monetary commitment (monetary-commitment.ts).
    const monetaryMinimum =
      lease && !billedElsewhere
        ? proratedMonetaryMinimumMinor(
            segments,
            (segment) =>
              parseInteger(
                planInEffect(input.planVersions(segment.ratePlanId), segment.startMs)
                  ?.monthlyCommitmentMinor ?? '0',
              ),
            input.period,
          )
        : 0n;
    if (monetaryMinimum > 0n) applyMonetaryCommitment(prepared, monetaryMinimum);

    let committedSpendMinor = 0n;
    for (const { gpuClass, committedMilli, ...split } of prepared) {
      const { usageLines, inCommitmentMinor, monetaryDrawnMinor } = usageLinesFor(
        leaseId,
        gpuClass,
        split,
        billedElsewhere,
      );
      lines.push(...usageLines);
      committedSpendMinor += inCommitmentMinor + monetaryDrawnMinor;
      if (!lease || committedMilli === 0n) continue;

      const plans = new Map<CommitmentSegment, RatePlanVersion>();
      for (const segment of segments) {
        const plan = planInEffect(input.planVersions(segment.ratePlanId), segment.startMs);
        if (!plan) {
          return {
            kind: 'rejected',
            reason: 'no-rate-plan-in-effect',
            detail: `lease ${leaseId}: plan ${segment.ratePlanId} not in effect`,
          };
        }
        noteCurrency(plan.currency);
        plans.set(segment, plan);
      }
      const minimum = proratedMinimumOverSegmentsMinor(
        segments,
        gpuClass,
        (segment) => {
          const fee = plans.get(segment)!.classes.find((price) => price.gpuClass === gpuClass);
          return fee ? parseInteger(fee.committedMonthlyFeePerGpuMinor) : 0n;
        },
        input.period,
      );
      const shortfall = shortfallMinor(minimum, inCommitmentMinor);
      committedSpendMinor += shortfall;
      if (shortfall > 0n) {
        lines.push({
          lineId: `${leaseId}:commitment-shortfall:${gpuClass}`,
          leaseId,
          kind: 'commitment-shortfall',
          gpuClass,
          quantity: overlapSeconds(lease.term, bounds).toString(),
          quantityUnit: 'second',
          amountMinor: shortfall.toString(),
          sourceEventIds: [...lease.sourceEventIds],
        });
      }

      const outage = input.outages?.find(
        (candidate) => candidate.leaseId === leaseId && candidate.gpuClass === gpuClass,
      );
      if (!outage) continue;
      // SLA tiers of the plan in effect where the lease's month starts.
      const plan = plans.get(segments[0])!;
      const committedSeconds = committedMilli / 1000n;
      const availability = availabilityBasisPoints(committedSeconds, outage.unavailableGpuSeconds);
      const tier = applicableTier(plan.slaCreditTiers, availability);
      if (!tier) continue;
      const amount = slaCreditMinor(inCommitmentMinor + shortfall, tier.creditBasisPoints);
      if (amount === 0n) continue;
      credits.push({
        leaseId,
        gpuClass,
        availabilityBasisPoints: availability,
        creditBasisPoints: tier.creditBasisPoints,
        amountMinor: amount,
        sourceEventIds: [...outage.sourceEventIds, ...lease.sourceEventIds],
      });
      lines.push({
        lineId: `${leaseId}:sla-credit:${gpuClass}`,
        leaseId,
        kind: 'sla-credit',
        gpuClass,
        quantity: String(tier.creditBasisPoints),
        quantityUnit: 'basis-point',
        amountMinor: (-amount).toString(),
        // the health events that took capacity away, and the lease events that set the commitment
        sourceEventIds: [...outage.sourceEventIds, ...lease.sourceEventIds],
      });
    }
    if (lease && monetaryMinimum > 0n) {
      for (const segment of segments) {
        const plan = planInEffect(input.planVersions(segment.ratePlanId), segment.startMs);
        if (plan) noteCurrency(plan.currency);
      }
      const shortfall = monetaryShortfallMinor(monetaryMinimum, committedSpendMinor, 0n);
      if (shortfall > 0n)
        lines.push({
          lineId: `${leaseId}:commitment-shortfall:monetary`,
          leaseId,
          kind: 'commitment-shortfall',
          quantity: overlapSeconds(lease.term, bounds).toString(),
          quantityUnit: 'second',
          amountMinor: shortfall.toString(),
          sourceEventIds: [...lease.sourceEventIds],
        });
    }
    lines.push(
      ...energyLinesFor(
        leaseId,
        charges.filter((charge) => charge.kind === 'energy'),
      ),
    );
  }

  if (currencies.size > 1) {
    return {
      kind: 'rejected',
      reason: 'mixed-currencies',
      detail: `one invoice, one currency; got ${[...currencies].join(', ')}`,
    };
  }
  if (!currency)
    return {
      kind: 'rejected',
      reason: 'nothing-to-bill',
      detail: `no charges and no commitments in ${input.period}`,
    };
  const totalMinor = lines.reduce((total, line) => total + BigInt(line.amountMinor), 0n);
  return { kind: 'composed', lines, credits, totalMinor, currency };
}

/** Usage billed at the class price because the monetary commitment took it (monetary-commitment.ts). */
const MONETARY_SUFFIX = ':monetary-commitment';

interface LineAccumulator {
  line: Omit<InvoiceLine, 'quantity' | 'amountMinor' | 'sourceEventIds'>;
  milli: IntegerSum;
  unitPrice: bigint;
  sourceEventIds: Set<string>;
}

interface HourOfCharges {
  hourStartMs: number;
  /** Thousandths; exact while `safe` (see below), else `milliBig` holds the exact value. */
  milli: number;
  milliBig: IntegerSum;
  price: string;
  overagePrice: string;
  ids: string[];
  prior: boolean;
}

interface ClassUsageSplit {
  /** Every hour of the class's usage in hour order; `prior` ones are outside the period. */
  ordered: HourOfCharges[];
  /** The hours in the period, and how each is split (same index). */
  inPeriod: HourOfCharges[];
  splits: { within: number | bigint; drawn?: bigint; overage: number | bigint }[];
}

/** A class's usage netted per hour and split by its GPU commitment (commitments.ts). */
function splitClassUsage(
  charges: readonly ChargeRated[],
  committed: bigint,
  bounds: { startMs: number; endMs: number },
): ClassUsageSplit {
  // Net each hour first (a correction and its original share an hour and a price), then fill the commitment.
  // Hours are summed in doubles while every quantity is short enough to be exact (the usual case: a bigint per
  // charge was most of the cost of a month), and the split falls back to bigint if any figure could be inexact.
  const hours = new Map<string, HourOfCharges>();
  let safe = true;
  let absoluteMilli = 0; // while this stays a safe integer, every partial sum in doubles is exact
  for (const charge of charges) {
    const overagePrice = charge.overageUnitPriceMicroMinor ?? charge.unitPriceMicroMinor;
    // Keyed by hour; a second price in the same hour (a plan re-published retroactively) gets its own bucket.
    let key = charge.usageHourStart;
    let hour = hours.get(key);
    if (hour && (hour.price !== charge.unitPriceMicroMinor || hour.overagePrice !== overagePrice)) {
      key = `${charge.usageHourStart}|${charge.unitPriceMicroMinor}|${overagePrice}`;
      hour = hours.get(key);
    }
    if (!hour) {
      const hourStartMs = Date.parse(charge.usageHourStart);
      const prior = hourStartMs < bounds.startMs || hourStartMs >= bounds.endMs;
      hour = {
        hourStartMs,
        milli: 0,
        milliBig: new IntegerSum(),
        price: charge.unitPriceMicroMinor,
        overagePrice,
        ids: [],
        prior,
      };
      hours.set(key, hour);
    }
    const milli = Number(charge.quantity);
    absoluteMilli += Math.abs(milli);
    if (charge.quantity.length > 15 || absoluteMilli > Number.MAX_SAFE_INTEGER) safe = false;
    hour.milli += milli;
    hour.milliBig.add(charge.quantity);
    for (const id of charge.sourceEventIds) hour.ids.push(id);
  }
  const ordered = [...hours.entries()]
    .sort(([a, x], [b, y]) => x.hourStartMs - y.hourStartMs || (a < b ? -1 : a > b ? 1 : 0))
    .map(([, hour]) => hour);
  const inPeriod = ordered.filter((hour) => !hour.prior);
  const hoursMilli = inPeriod.map((hour) => hour.milli);
  const inDoubles = safe && fitsInDoubles(hoursMilli, committed);
  const splits: ClassUsageSplit['splits'] = inDoubles
    ? splitByCommitmentInDoubles(hoursMilli, Number(committed)).map((split) => ({
        within: split.withinMilli,
        overage: split.overageMilli,
      }))
    : splitByCommitment(
        inPeriod.map((hour) => ({ hourStartMs: hour.hourStartMs, milliGpuSeconds: hour.milliBig.total() })),
        committed,
      ).map((split) => ({ within: split.withinMilli, overage: split.overageMilli }));
  return { ordered, inPeriod, splits };
}

/**
 * Moves the usage above the class commitments into the monetary commitment as far as it reaches (the rest stays
 * overage), for every class of one lease at once: the drawing order runs across classes.
 */
function applyMonetaryCommitment(
  prepared: readonly (ClassUsageSplit & { gpuClass: string })[],
  monetaryMinimumMinor: bigint,
): void {
  let drawnByClassCommitments = 0n;
  const pieces: UsageAboveClassCommitment[] = [];
  const at: { split: ClassUsageSplit; index: number }[] = [];
  for (const split of prepared) {
    split.inPeriod.forEach((hour, index) => {
      const price = BigInt(hour.price);
      drawnByClassCommitments += BigInt(split.splits[index].within) * price;
      pieces.push({
        hourStartMs: hour.hourStartMs,
        gpuClass: split.gpuClass,
        milliGpuSeconds: BigInt(split.splits[index].overage),
        priceMicroMinor: price,
      });
      at.push({ split, index });
    });
  }
  drawDownMonetaryCommitment(pieces, monetaryMinimumMinor, drawnByClassCommitments).forEach((drawdown, i) => {
    const { split, index } = at[i];
    split.splits[index] = {
      within: split.splits[index].within,
      drawn: drawdown.withinMilli,
      overage: drawdown.overageMilli,
    };
  });
}

function usageLinesFor(
  leaseId: string,
  gpuClass: string,
  { ordered, inPeriod, splits }: ClassUsageSplit,
  outsideCommitment: boolean,
): { usageLines: InvoiceLine[]; inCommitmentMinor: bigint; monetaryDrawnMinor: bigint } {
  const accumulators = new Map<string, LineAccumulator>();
  const add = (
    kind: 'gpu-usage' | 'gpu-overage',
    suffix: string,
    price: string,
    milli: number | bigint | IntegerSum,
    ids: string[],
  ) => {
    if (milli === 0 || milli === 0n) return;
    const lineId = `${leaseId}:${kind}:${gpuClass}:${price}${suffix}`;
    let accumulator = accumulators.get(lineId);
    if (!accumulator) {
      accumulator = {
        line: {
          lineId,
          leaseId,
          kind,
          gpuClass,
          quantityUnit: 'milli-gpu-second',
          unitPriceMicroMinor: price,
        },
        milli: new IntegerSum(),
        unitPrice: BigInt(price),
        sourceEventIds: new Set(),
      };
      accumulators.set(lineId, accumulator);
    }
    if (milli instanceof IntegerSum) accumulator.milli.addSum(milli);
    else accumulator.milli.add(String(milli));
    for (const id of ids) accumulator.sourceEventIds.add(id);
  };
  inPeriod.forEach((hour, index) => {
    if (outsideCommitment)
      return add('gpu-usage', ':outside-commitment', hour.price, hour.milliBig, hour.ids);
    add('gpu-usage', '', hour.price, splits[index].within, hour.ids);
    const drawn = splits[index].drawn;
    if (drawn !== undefined) add('gpu-usage', MONETARY_SUFFIX, hour.price, drawn, hour.ids);
    add('gpu-overage', '', hour.overagePrice, splits[index].overage, hour.ids);
  });
  for (const hour of ordered.filter((candidate) => candidate.prior))
    add('gpu-usage', ':prior-period', hour.price, hour.milliBig, hour.ids);

  let inCommitmentMinor = 0n;
  let monetaryDrawnMinor = 0n;
  const usageLines: InvoiceLine[] = [];
  for (const accumulator of accumulators.values()) {
    const milli = accumulator.milli.total();
    const amount = gpuTimeAmountMinor(milli, accumulator.unitPrice);
    const { kind, lineId } = accumulator.line;
    if (kind === 'gpu-usage' && !outsideCommitment && lineId.endsWith(MONETARY_SUFFIX))
      monetaryDrawnMinor += amount;
    else if (kind === 'gpu-usage' && !lineId.endsWith(':prior-period') && !outsideCommitment)
      inCommitmentMinor += amount;
    usageLines.push(toLine(accumulator, milli, amount));
  }
  return { usageLines, inCommitmentMinor, monetaryDrawnMinor };
}

function energyLinesFor(leaseId: string, charges: readonly ChargeRated[]): InvoiceLine[] {
  const accumulators = new Map<string, LineAccumulator>();
  for (const charge of charges) {
    const lineId = `${leaseId}:energy:${charge.unitPriceMicroMinor}`;
    let accumulator = accumulators.get(lineId);
    if (!accumulator) {
      accumulator = {
        line: {
          lineId,
          leaseId,
          kind: 'energy',
          quantityUnit: 'milli-watt-hour',
          unitPriceMicroMinor: charge.unitPriceMicroMinor,
        },
        milli: new IntegerSum(),
        unitPrice: BigInt(charge.unitPriceMicroMinor),
        sourceEventIds: new Set(),
      };
      accumulators.set(lineId, accumulator);
    }
    accumulator.milli.add(charge.quantity);
    for (const id of charge.sourceEventIds) accumulator.sourceEventIds.add(id);
  }
  const lines: InvoiceLine[] = [];
  for (const accumulator of accumulators.values()) {
    const milli = accumulator.milli.total();
    if (milli !== 0n) lines.push(toLine(accumulator, milli, energyAmountMinor(milli, accumulator.unitPrice)));
  }
  return lines;
}

function toLine(accumulator: LineAccumulator, milli: bigint, amountMinor: bigint): InvoiceLine {
  return {
    ...accumulator.line,
    quantity: milli.toString(),
    amountMinor: amountMinor.toString(),
    sourceEventIds: [...accumulator.sourceEventIds],
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
