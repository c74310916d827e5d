import { EventRegistry } from '../registry';
import { allBillingEvents, ChargeRated, minorUnitsSchema } from './index';

describe('billing contracts', () => {
  const registry = new EventRegistry(allBillingEvents);

  it.each([
    ['integer cents', '1250', true],
    ['negative cents', '-1250', true],
    ['a float', '12.50', false],
    ['a leading zero', '0125', false],
    ['exponent notation', '1e3', false],
  ])('minor units: %s', (_name, value, valid) => {
    expect(minorUnitsSchema.safeParse(value).success).toBe(valid);
  });

  it('rejects a charge whose price is a float', () => {
    const result = registry.validateNew(ChargeRated.type, {
      chargeId: 'c1',
      invoiceId: 'invoice-t1-2026-11',
      tenantId: 't1',
      leaseId: 'l1',
      period: '2026-11',
      kind: 'gpu-usage',
      gpuClass: 'H100',
      usageHourStart: '2026-11-01T00:00:00.000Z',
      quantity: '3600000',
      quantityUnit: 'milli-gpu-second',
      unitPriceMicroMinor: 2.5,
      ratePlanId: 'p',
      ratePlanVersion: 1,
      currency: { code: 'USD', minorUnitExponent: 2 },
      sourceEventIds: ['e1'],
    });
    expect(result.ok).toBe(false);
  });
});
