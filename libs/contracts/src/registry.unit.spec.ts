import { z } from 'zod';
import { defineEvent } from './event-definition';
import { EventRegistry } from './registry';

const PriceSet = defineEvent({
  type: 'PriceSet',
  schemaVersion: 3,
  schema: z.object({ sku: z.string(), priceMinor: z.number().int(), currency: z.string().length(3) }),
  upcasters: {
    1: (p) => ({ ...(p as object), currency: 'USD' }), // v1 had no currency: it was always USD
    2: (p) => {
      const { price, ...rest } = p as { price: number };
      return { ...rest, priceMinor: Math.round(price * 100) }; // v2 carried a decimal price
    },
  },
});
const registry = new EventRegistry([PriceSet]);

describe('EventRegistry: upcasting and validation at the boundary', () => {
  it.each([
    [
      'v1 is lifted through v2 to v3',
      1,
      { sku: 'h100-hour', price: 2.5 },
      { sku: 'h100-hour', priceMinor: 250, currency: 'USD' },
    ],
    [
      'v2 is lifted to v3',
      2,
      { sku: 'h100-hour', price: 2.5, currency: 'EUR' },
      { sku: 'h100-hour', priceMinor: 250, currency: 'EUR' },
    ],
    [
      'v3 passes as it is',
      3,
      { sku: 'h100-hour', priceMinor: 250, currency: 'EUR' },
      { sku: 'h100-hour', priceMinor: 250, currency: 'EUR' },
    ],
  ])('%s', (_name, version, payload, expected) => {
    expect(registry.parsePayload('PriceSet', version, payload)).toEqual({
      ok: true,
      value: { schemaVersion: 3, payload: expected },
    });
  });

  it.each([
    ['an unknown type', 'PriceDropped', 1, {}, 'unknown-event-type'],
    ['a version from the future', 'PriceSet', 4, {}, 'unknown-schema-version'],
    [
      'a payload that breaks the schema',
      'PriceSet',
      3,
      { sku: 'x', priceMinor: 1.5, currency: 'EUR' },
      'invalid-payload',
    ],
  ])('rejects %s with a reason', (_name, type, version, payload, reason) => {
    const result = registry.parsePayload(type, version, payload);
    expect(result).toMatchObject({ ok: false, reason });
  });

  it('refuses a definition whose upcaster chain has a hole', () => {
    expect(() => defineEvent({ type: 'Broken', schemaVersion: 2, schema: z.object({}) })).toThrow(
      /no upcaster from v1/,
    );
  });
});
