import { EventRegistry } from '../registry';
import {
  allMeteringEvents,
  fromMilliUnits,
  milliUnits,
  telemetrySampleSchema,
  UsageRecorded,
} from './events';

describe('metering contracts', () => {
  it.each([
    ['12.345', 12345n],
    ['0.000', 0n],
    ['-0.500', -500n],
    ['3600.000', 3600000n],
  ])('milli-unit decimal %s round-trips', (text, milli) => {
    expect(milliUnits(text)).toBe(milli);
    expect(fromMilliUnits(milli)).toBe(text);
  });

  it.each(['1.5', '1', 'abc', '1.2345'])('%s is not a 3-decimal quantity', (text) => {
    expect(() => milliUnits(text)).toThrow();
  });

  const sample = {
    sampleId: 's1',
    gpuId: 'g1',
    nodeId: 'n1',
    sampledAt: '2026-01-01T00:00:10Z',
    utilization: 0.5,
    powerW: 600,
  };
  it.each([
    ['a valid sample', sample, true],
    ['utilization above 1', { ...sample, utilization: 1.2 }, false],
    ['negative power', { ...sample, powerW: -1 }, false],
    ['timestamp that is not ISO', { ...sample, sampledAt: 'yesterday' }, false],
    ['missing sample id', { ...sample, sampleId: undefined }, false],
  ])('telemetry: %s', (_name, input, ok) => {
    expect(telemetrySampleSchema.safeParse(input).success).toBe(ok);
  });

  it('UsageRecorded rejects an hour start that is not on the hour', () => {
    const registry = new EventRegistry([...allMeteringEvents]);
    const payload = {
      usageRecordId: 'l|H100|2026-01-01T00:00:00.000Z',
      leaseId: 'l',
      tenantId: 't',
      gpuClass: 'H100',
      hourStart: '2026-01-01T00:00:00.000Z',
      closedAt: '2026-01-01T01:05:00.000Z',
      sources: { sampleDigest: 'a'.repeat(16), placementEventIds: [] },
      gpuSecondsAllocated: '3600.000',
      gpuSecondsBusy: '0.000',
      energyWh: '0.000',
      sampleCount: 0,
    };
    expect(registry.validateNew(UsageRecorded.type, payload).ok).toBe(true);
    expect(
      registry.validateNew(UsageRecorded.type, { ...payload, hourStart: '2026-01-01T00:30:00.000Z' }).ok,
    ).toBe(false);
  });
});
