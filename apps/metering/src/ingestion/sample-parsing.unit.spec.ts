import { parseTelemetryRecord } from './sample-parsing';

const sample = (sampleId: string) => ({
  sampleId,
  gpuId: 'g1',
  nodeId: 'n1',
  sampledAt: '2026-03-01T00:10:00.000Z',
  utilization: 0.5,
  powerW: 700,
});
const record = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('telemetry record parsing', () => {
  it.each([
    ['one sample object', record(sample('a')), ['a'], undefined],
    ['a node report', record([sample('a'), sample('b')]), ['a', 'b'], undefined],
    ['an empty record', Buffer.alloc(0), [], 'empty-message'],
    ['not JSON', record('{oops'), [], 'unparseable-json'],
    ['an invalid single sample', record({ sampleId: 'x' }), [], 'invalid-sample'],
    ['an empty node report', record([]), [], 'invalid-sample'],
    [
      'a node report above the limit',
      record(Array.from({ length: 1001 }, (_, i) => sample(`s${i}`))),
      [],
      'invalid-sample',
    ],
    [
      'a node report with one invalid item keeps the valid ones',
      record([sample('a'), { sampleId: 'x' }, sample('c')]),
      ['a', 'c'],
      'invalid-sample',
    ],
  ])('%s', (_name, value, ids, reason) => {
    const parsed = parseTelemetryRecord(value);
    expect(parsed.samples.map((s) => s.sampleId)).toEqual(ids);
    expect(parsed.problem?.reason).toBe(reason);
  });

  it('names the invalid items of a node report', () => {
    const parsed = parseTelemetryRecord(record([sample('a'), { sampleId: 'x' }, 7, 'y', null]));
    expect(parsed.problem?.detail).toMatch(/^item 1: .*; item 2: .*; item 3: .*; and 1 more$/);
  });
});
