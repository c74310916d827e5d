import { PlacementInterval } from '../domain/attribution';
import { changedRange } from './placements.handler';

const base: PlacementInterval = {
  placementId: 'p',
  workloadId: 'w',
  leaseId: 'l',
  tenantId: 't',
  gpuClass: 'H100',
  gpuIds: ['g'],
  eventIds: [],
};
const span = (startMs?: number, endMs?: number): PlacementInterval => ({ ...base, startMs, endMs });
const INF = Number.POSITIVE_INFINITY;

describe('changedRange: the time whose GPU holder may have changed', () => {
  it.each([
    ['a new placement: from its start, open-ended', undefined, span(100), { fromMs: 100, toMs: INF }],
    [
      'a release of an open placement: from the release on',
      span(100),
      span(100, 500),
      { fromMs: 500, toMs: INF },
    ],
    ['a release known before its placement: nothing held yet', undefined, span(undefined, 500), undefined],
    [
      'the placement arriving after its release: the closed span',
      span(undefined, 500),
      span(100, 500),
      { fromMs: 100, toMs: 500 },
    ],
    ['a redelivered fact: nothing changes', span(100, 500), span(100, 500), undefined],
    ['an earlier end replacing a later one', span(100, 900), span(100, 500), { fromMs: 500, toMs: 900 }],
  ])('%s', (_name, previous, next, expected) => {
    expect(changedRange(previous, next)).toEqual(expected);
  });
});
