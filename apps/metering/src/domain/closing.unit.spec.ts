import { closeBound, inputWatermarkMs, lateByMs } from './closing';

const T = (hhmm: string) => Date.parse(`2026-03-01T${hhmm}:00.000Z`);
const LATENESS = 5 * 60_000;

describe('an input watermark is the minimum over all partitions of its topic', () => {
  it.each([
    ['no marker at all', [], null],
    [
      'a partition without a marker holds it unknown',
      [{ partition: 0, partitions: 3, watermarkMs: T('10:00') }],
      null,
    ],
    [
      'all three partitions: the slowest',
      [
        { partition: 0, partitions: 3, watermarkMs: T('10:00') },
        { partition: 1, partitions: 3, watermarkMs: T('09:10') },
        { partition: 2, partitions: 3, watermarkMs: T('11:00') },
      ],
      T('09:10'),
    ],
    [
      'the topic grew to 4: the new partition must report too',
      [
        { partition: 0, partitions: 3, watermarkMs: T('10:00') },
        { partition: 1, partitions: 3, watermarkMs: T('10:00') },
        { partition: 2, partitions: 4, watermarkMs: T('10:00') },
      ],
      null,
    ],
  ])('%s', (_name, marks, expected) => {
    expect(inputWatermarkMs(marks)).toBe(expected);
  });
});

describe('an hour closes on min(clock - lateness, required watermarks)', () => {
  it.each([
    [
      'placements caught up: the lateness decides',
      T('12:10'),
      T('12:30'),
      { dueBeforeMs: T('12:00'), limitedBy: 'lateness' },
    ],
    [
      "allocation's relay is held back at 10:40: hour 10 stays open",
      T('12:10'),
      T('10:40'),
      { dueBeforeMs: T('10:00'), limitedBy: 'placements-watermark' },
    ],
    [
      'the watermark reaches the end of hour 10 exactly: it closes',
      T('12:10'),
      T('11:00'),
      { dueBeforeMs: T('11:00'), limitedBy: 'placements-watermark' },
    ],
  ])('%s', (_name, asOf, watermark, expected) => {
    expect(
      closeBound(asOf, LATENESS, [{ input: 'placements', required: true, watermarkMs: watermark }]),
    ).toMatchObject(expected);
  });

  it('a required input without any watermark closes nothing; an ignored one does not count', () => {
    expect(
      closeBound(T('12:10'), LATENESS, [{ input: 'placements', required: true, watermarkMs: null }])
        .dueBeforeMs,
    ).toBe(Number.NEGATIVE_INFINITY);
    expect(
      closeBound(T('12:10'), LATENESS, [{ input: 'placements', required: false, watermarkMs: null }]),
    ).toMatchObject({ dueBeforeMs: T('12:00'), limitedBy: 'lateness' });
  });

  it('a correction says how long after the close it came (never negative, unknown for old windows)', () => {
    expect(lateByMs(T('11:05'), T('11:47'))).toBe(42 * 60_000);
    expect(lateByMs(T('11:05'), T('11:00'))).toBe(0);
    expect(lateByMs(undefined, T('11:47'))).toBeUndefined();
  });
});
