import type { billing, metering } from '@fleetledger/contracts';
import type { LeaseTerms } from '../src/domain/leases';
import type { SourceEvent } from '../src/domain/rating';

/**
 * The hand-computed example used by unit and service tests (USD, cents):
 *   plan usd-standard v1: H100 2.50/GPU-h (overage 3.00), H200 3.00/GPU-h (overage 3.60),
 *   take-or-pay 1,000.00 (H100) and 1,500.00 (H200) per committed GPU per month, energy 0.12/kWh,
 *   SLA: below 99.90 % -> 10 %, below 99 % -> 25 %, below 95 % -> 50 %.
 */
export const usd = { code: 'USD', minorUnitExponent: 2 } as const;

export function usdPlan(
  overrides: Partial<billing.RatePlanPublishedPayload> = {},
): billing.RatePlanPublishedPayload {
  return {
    ratePlanId: 'usd-standard',
    version: 1,
    effectiveFrom: '2026-01-01T00:00:00.000Z',
    currency: usd,
    classes: [
      {
        gpuClass: 'H100',
        pricePerGpuHourMicroMinor: '250000000',
        overagePricePerGpuHourMicroMinor: '300000000',
        committedMonthlyFeePerGpuMinor: '100000',
      },
      {
        gpuClass: 'H200',
        pricePerGpuHourMicroMinor: '300000000',
        overagePricePerGpuHourMicroMinor: '360000000',
        committedMonthlyFeePerGpuMinor: '150000',
      },
    ],
    energyPricePerKwhMicroMinor: '12000000',
    slaCreditTiers: [
      { availabilityBelowBasisPoints: 9990, creditBasisPoints: 1000 },
      { availabilityBelowBasisPoints: 9900, creditBasisPoints: 2500 },
      { availabilityBelowBasisPoints: 9500, creditBasisPoints: 5000 },
    ],
    rounding: 'half-even-per-line',
    ...overrides,
  };
}

export function lease(overrides: Partial<LeaseTerms> & Pick<LeaseTerms, 'leaseId'>): LeaseTerms {
  return {
    tenantId: 'tenant-a',
    ratePlanId: 'usd-standard',
    term: { startMs: Date.parse('2026-11-01T00:00:00.000Z'), endMs: Date.parse('2026-12-01T00:00:00.000Z') },
    committedGpus: {},
    sourceEventIds: [`signed-${overrides.leaseId}`],
    ...overrides,
  };
}

export function usageRecorded(
  input: {
    leaseId: string;
    gpuClass: 'H100' | 'H200' | 'GB200';
    hourStart: string;
    gpuSeconds: string;
    energyWh?: string;
    tenantId?: string;
  },
  eventId = `usage-${input.leaseId}-${input.gpuClass}-${input.hourStart}`,
): SourceEvent<metering.UsageRecordedPayload> {
  return {
    eventId,
    payload: {
      usageRecordId: `${input.leaseId}|${input.gpuClass}|${input.hourStart}`,
      leaseId: input.leaseId,
      tenantId: input.tenantId ?? 'tenant-a',
      gpuClass: input.gpuClass,
      hourStart: input.hourStart,
      closedAt: input.hourStart,
      sources: { sampleDigest: '0000000000000000', placementEventIds: [] },
      gpuSecondsAllocated: input.gpuSeconds,
      gpuSecondsBusy: input.gpuSeconds,
      energyWh: input.energyWh ?? '0.000',
      sampleCount: 360,
    },
  };
}

export function usageCorrected(
  original: SourceEvent<metering.UsageRecordedPayload>,
  delta: { gpuSeconds: string; energyWh?: string },
  correctionSeq = 1,
): SourceEvent<metering.UsageCorrectedPayload> {
  const record = original.payload;
  return {
    eventId: `correction-${record.usageRecordId}-${correctionSeq}`,
    payload: {
      usageCorrectionId: `${record.usageRecordId}#${correctionSeq}`,
      usageRecordId: record.usageRecordId,
      correctionSeq,
      leaseId: record.leaseId,
      tenantId: record.tenantId,
      gpuClass: record.gpuClass,
      hourStart: record.hourStart,
      reason: 'late-samples',
      correctedAt: '2026-12-05T00:00:00.000Z',
      delta: {
        gpuSecondsAllocated: delta.gpuSeconds,
        gpuSecondsBusy: delta.gpuSeconds,
        energyWh: delta.energyWh ?? '0.000',
        sampleCount: 0,
      },
      totalsAfter: {
        gpuSecondsAllocated: record.gpuSecondsAllocated,
        gpuSecondsBusy: record.gpuSecondsBusy,
        energyWh: record.energyWh,
        sampleCount: record.sampleCount,
      },
      sources: record.sources,
    },
  };
}
