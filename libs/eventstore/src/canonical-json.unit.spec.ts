import { canonicalJson } from './canonical-json';
import { chainHash, GENESIS_HASH } from './hash-chain';

describe('canonical JSON and the hash chain', () => {
  it.each([
    [
      'keys are sorted at every depth',
      { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } },
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    ],
    ['undefined properties are dropped, as jsonb drops them', { a: undefined, b: 'x' }, '{"b":"x"}'],
    ['strings are escaped', { s: 'quote " and \u00e9' }, '{"s":"quote \\" and \u00e9"}'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('refuses non-finite numbers, which JSON cannot carry', () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(/non-finite/);
  });

  const event = {
    globalPosition: 1,
    eventId: '0190a000-0000-7000-8000-000000000001',
    streamId: 's',
    streamVersion: 1,
    type: 'T',
    schemaVersion: 1,
    payload: { b: 2, a: 1 },
    metadata: { correlationId: 'c' },
    occurredAt: '2026-11-01T00:00:00.000Z',
    recordedAt: '2026-11-01T00:00:00.000Z',
  };

  it('hashes the same event the same whatever its key order', () => {
    expect(chainHash(GENESIS_HASH, event)).toBe(
      chainHash(GENESIS_HASH, { ...event, payload: { a: 1, b: 2 } }),
    );
  });

  it('changes the hash when the payload, or the previous link, changes', () => {
    const base = chainHash(GENESIS_HASH, event);
    expect(chainHash(GENESIS_HASH, { ...event, payload: { a: 1, b: 3 } })).not.toBe(base);
    expect(chainHash('1'.repeat(64), event)).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
  });
});
