import { rateCorrection, rateUsage } from './rating';
import { planInEffect } from './rate-plans';
import { usageCorrected, usageRecorded, usdPlan } from '../../test/fixtures';

const v1 = usdPlan();
const v2 = usdPlan({
  version: 2,
  effectiveFrom: '2026-11-15T00:00:00.000Z',
  classes: [
    {
      gpuClass: 'H100',
      pricePerGpuHourMicroMinor: '200000000',
      overagePricePerGpuHourMicroMinor: '240000000',
      committedMonthlyFeePerGpuMinor: '100000',
    },
  ],
});

describe('rating usage into charges', () => {
  it.each([
    ['before any version', '2025-12-31T23:00:00.000Z', undefined],
    ['after v1 only', '2026-11-14T23:00:00.000Z', 1],
    ['at v2 effectiveFrom', '2026-11-15T00:00:00.000Z', 2],
  ])('plan in effect %s', (_case, hour, expectedVersion) => {
    expect(planInEffect([v1, v2], Date.parse(hour))?.version).toBe(expectedVersion);
  });

  it('a usage hour becomes a GPU-time and an energy charge, priced by the version in effect, with its source event', () => {
    const usage = usageRecorded({
      leaseId: 'L1',
      gpuClass: 'H100',
      hourStart: '2026-11-20T05:00:00.000Z',
      gpuSeconds: '7200.000',
      energyWh: '1500.000',
    });
    const charges = rateUsage(usage, [v1, v2]);
    expect(charges).toEqual([
      expect.objectContaining({
        chargeId: 'L1|H100|2026-11-20T05:00:00.000Z:gpu-usage',
        invoiceId: 'tenant-a.2026-11',
        period: '2026-11',
        quantity: '7200000',
        quantityUnit: 'milli-gpu-second',
        unitPriceMicroMinor: '200000000',
        overageUnitPriceMicroMinor: '240000000',
        ratePlanVersion: 2,
        sourceEventIds: [usage.eventId],
      }),
      expect.objectContaining({
        kind: 'energy',
        quantity: '1500000',
        quantityUnit: 'milli-watt-hour',
        unitPriceMicroMinor: '12000000',
      }),
    ]);
  });

  it('rating the same usage twice yields the same charge ids (deduplication is by id, forever)', () => {
    const usage = usageRecorded({
      leaseId: 'L1',
      gpuClass: 'H100',
      hourStart: '2026-11-02T00:00:00.000Z',
      gpuSeconds: '3600.000',
    });
    expect(rateUsage(usage, [v1])).toEqual(rateUsage(usage, [v1]));
  });

  it('a correction becomes an adjusting charge that names the charge it corrects', () => {
    const usage = usageRecorded({
      leaseId: 'L1',
      gpuClass: 'H100',
      hourStart: '2026-11-02T00:00:00.000Z',
      gpuSeconds: '3600.000',
    });
    const charges = rateCorrection(usageCorrected(usage, { gpuSeconds: '-1800.000' }), [v1]);
    expect(charges).toEqual([
      expect.objectContaining({
        chargeId: 'L1|H100|2026-11-02T00:00:00.000Z#1:gpu-usage',
        quantity: '-1800000',
        adjustsChargeId: 'L1|H100|2026-11-02T00:00:00.000Z:gpu-usage',
        period: '2026-11',
      }),
    ]);
  });

  it.each([
    [
      'no version in effect',
      usageRecorded({
        leaseId: 'L1',
        gpuClass: 'H100',
        hourStart: '2025-06-01T00:00:00.000Z',
        gpuSeconds: '1.000',
      }),
      'no-rate-plan-in-effect',
    ],
    [
      'class not priced',
      usageRecorded({
        leaseId: 'L1',
        gpuClass: 'GB200',
        hourStart: '2026-11-01T00:00:00.000Z',
        gpuSeconds: '1.000',
      }),
      'gpu-class-not-priced',
    ],
  ])('rejects: %s', (_case, usage, reason) => {
    expect(rateUsage(usage, [v1])).toEqual(expect.objectContaining({ kind: 'rejected', reason }));
  });

  it('an empty hour produces no charge', () => {
    expect(
      rateUsage(
        usageRecorded({
          leaseId: 'L1',
          gpuClass: 'H100',
          hourStart: '2026-11-01T00:00:00.000Z',
          gpuSeconds: '0.000',
        }),
        [v1],
      ),
    ).toEqual([]);
  });
});
