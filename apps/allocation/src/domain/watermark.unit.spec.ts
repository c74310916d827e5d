import { allocation } from '@fleetledger/contracts';
import { checkCommandTime, commandTime } from './command-time';
import { AllocationState, evolve } from './state';
import { decideOperatorWatermark, nextWatermark, watermarkEvents } from './watermark';
import { isRejection } from './rejection';

const T = (hhmm: string) => Date.parse(`2026-03-01T${hhmm}:00.000Z`);
const iso = (hhmm: string) => new Date(T(hhmm)).toISOString();
const clock = { followsClock: true, lagMs: 60_000 };
const story = { followsClock: false, lagMs: 60_000 };

describe('allocation watermark: where it moves', () => {
  it.each([
    [
      'an empty ledger on the clock: the heartbeat (clock - lag)',
      '',
      '',
      T('10:00'),
      clock,
      iso('09:59'),
      'heartbeat',
    ],
    ['a decision later than clock - lag wins', iso('10:30'), '', T('10:00'), clock, iso('10:30'), 'decision'],
    [
      'an idle ledger: the heartbeat moves it on',
      iso('09:00'),
      iso('09:00'),
      T('10:00'),
      clock,
      iso('09:59'),
      'heartbeat',
    ],
    ['story time: the latest decision', iso('09:00'), '', T('23:00'), story, iso('09:00'), 'decision'],
  ])('%s', (_name, ledgerAt, watermarkAt, now, policy, watermark, source) => {
    expect(nextWatermark({ ledgerAt, watermarkAt }, now, policy)).toEqual({ watermark, source });
  });

  it.each([
    ['story time with nothing decided', '', '', story],
    ['story time, no decision since the last marker', iso('09:00'), iso('09:00'), story],
    ['the clock has not passed the watermark', iso('09:00'), iso('09:59'), clock],
  ])('does not move (no marker written): %s', (_name, ledgerAt, watermarkAt, policy) => {
    expect(nextWatermark({ ledgerAt, watermarkAt }, T('10:00'), policy)).toBeNull();
  });

  it('an operator may declare the past complete, never the future, never backwards', () => {
    expect(decideOperatorWatermark({ watermarkAt: iso('09:00') }, iso('11:00'), T('12:00'))).toEqual({
      watermark: iso('11:00'),
      source: 'operator',
    });
    const future = decideOperatorWatermark({ watermarkAt: '' }, iso('13:00'), T('12:00'));
    expect(isRejection(future) && future.reason).toBe('invalid');
    const backwards = decideOperatorWatermark({ watermarkAt: iso('11:00') }, iso('10:00'), T('12:00'));
    expect(isRejection(backwards) && backwards.detail).toMatch(/already at 2026-03-01T11:00:00.000Z/);
  });
});

describe('allocation watermark: one marker per partition, and the time-order rule behind it', () => {
  it('markers name their partition and the partition count; evolving one refuses commands stamped behind it', () => {
    const appends = watermarkEvents({ watermark: iso('10:00'), source: 'heartbeat' }, ['a', 'b', 'c']);
    expect(appends.map((a) => [a.streamId, a.events[0].payload])).toEqual([
      ['a', expect.objectContaining({ partition: 0, partitions: 3, watermark: iso('10:00') })],
      ['b', expect.objectContaining({ partition: 1, partitions: 3 })],
      ['c', expect.objectContaining({ partition: 2, partitions: 3 })],
    ]);
    const state = new AllocationState();
    state.ledgerAt = iso('09:00');
    evolve(state, {
      type: allocation.PartitionWatermarkAdvanced.type,
      payload: appends[0].events[0].payload,
    });
    expect(state.watermarkAt).toBe(iso('10:00'));
    const refused = checkCommandTime(state, iso('09:30'));
    expect(refused?.reason).toBe('stale-command');
    expect(refused?.detail).toMatch(/behind allocation's published watermark 2026-03-01T10:00:00.000Z/);
    expect(checkCommandTime(state, iso('10:00'))).toBeNull();
    // An unstamped command runs at the watermark at the earliest.
    expect(commandTime(state, undefined, iso('09:45'))).toBe(iso('10:00'));
  });
});
