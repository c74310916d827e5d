import { AttributionIndex, PlacementInterval } from './attribution';
import { isBeyondRetention, sampleDayOf } from './quantities';

const T = (hhmm: string) => Date.parse(`2026-03-01T${hhmm}:00Z`);

function interval(placementId: string, gpuIds: string[], start: string, end?: string): PlacementInterval {
  return {
    placementId,
    workloadId: `w-${placementId}`,
    leaseId: `lease-${placementId}`,
    tenantId: 't',
    gpuClass: 'H100',
    gpuIds,
    startMs: T(start),
    endMs: end === undefined ? undefined : T(end),
    eventIds: [`e-${placementId}`],
  };
}

describe('AttributionIndex pruning', () => {
  const build = () => {
    const index = new AttributionIndex();
    index.put(interval('ended-early', ['g1', 'g2'], '00:00', '00:30'));
    index.put(interval('ended-at-watermark', ['g1'], '00:30', '01:00'));
    index.put(interval('ends-later', ['g2'], '00:30', '02:30'));
    index.put(interval('running', ['g3'], '00:00'));
    return index;
  };

  it.each([
    ['a GPU whose only later holder still runs', 'g2', '01:30', 'ends-later'],
    ['a placement without end is kept', 'g3', '05:00', 'running'],
    ['a GPU whose placements all ended before the watermark has no holder left', 'g1', '01:30', undefined],
  ])('after pruning at 01:00: %s', (_name, gpuId, at, holder) => {
    const index = build();
    index.prune(T('01:00'));
    expect(index.holderAt(gpuId, T(at))?.placementId).toBe(holder);
  });

  it('drops exactly the intervals that ended at or before the watermark, and their GPUs', () => {
    const index = build();
    expect(index.prune(T('01:00'))).toBe(2);
    expect([...index.intervals()].map((i) => i.placementId).sort()).toEqual(['ends-later', 'running']);
    expect(index.gpuCount).toBe(2); // g1 had only ended placements
    expect(index.prune(T('01:00'))).toBe(0);
  });

  it('answers the same as an unpruned index for every instant at or after the watermark', () => {
    const full = build();
    const pruned = build();
    pruned.prune(T('01:00'));
    for (const gpuId of ['g1', 'g2', 'g3'])
      for (let ms = T('01:00'); ms < T('03:00'); ms += 60_000)
        expect(pruned.holderAt(gpuId, ms)?.placementId).toBe(full.holderAt(gpuId, ms)?.placementId);
  });

  it('remove forgets one placement on every GPU it held', () => {
    const index = build();
    index.remove('ended-early');
    expect(index.holderAt('g1', T('00:10'))).toBeUndefined();
    expect(index.holderAt('g2', T('00:10'))).toBeUndefined();
    expect(index.holderAt('g2', T('01:00'))?.placementId).toBe('ends-later');
  });
});

describe('sample storage day and retention', () => {
  it.each([
    ['a midday instant', '2026-03-01T12:00:00.000Z', '2026-03-01'],
    ['the last millisecond of a day', '2026-03-01T23:59:59.999Z', '2026-03-01'],
    ['midnight starts the next day', '2026-03-02T00:00:00.000Z', '2026-03-02'],
  ])('%s', (_name, instant, day) => {
    expect(sampleDayOf(Date.parse(instant))).toBe(day);
  });

  it.each([
    ['no horizon yet', '2020-01-01', null, false],
    ['a day before the horizon', '2026-02-28', '2026-03-01', true],
    ['the horizon day itself is kept', '2026-03-01', '2026-03-01', false],
    ['a later day', '2026-03-05', '2026-03-01', false],
  ])('%s', (_name, day, horizon, refused) => {
    expect(isBeyondRetention(day, horizon)).toBe(refused);
  });
});
