import {
  allocatedShareOfHealthy,
  fleetDelta,
  GpuHealth,
  gpuMsPerHour,
  healthChangesOf,
  HEALTH_EVENT_TYPES,
} from './fleet-capacity';
import { HOUR_MS } from './quantities';

const T = (hhmm: string) => Date.parse(`2026-03-01T${hhmm}:00Z`);

describe('fleet capacity', () => {
  it.each<[string, [string, GpuHealth][], [string, GpuHealth][], { healthy: number; inService: number }]>([
    [
      'commissioning 3 healthy GPUs',
      [],
      [
        ['a', 'healthy'],
        ['b', 'healthy'],
        ['c', 'healthy'],
      ],
      { healthy: 3, inService: 3 },
    ],
    ['commissioning into a drained rack', [], [['a', 'draining']], { healthy: 0, inService: 1 }],
    ['a healthy GPU fails', [['a', 'healthy']], [['a', 'failed']], { healthy: -1, inService: 0 }],
    [
      'a failed GPU is decommissioned',
      [['a', 'failed']],
      [['a', 'decommissioned']],
      { healthy: 0, inService: -1 },
    ],
    [
      'a healthy GPU is decommissioned',
      [['a', 'healthy']],
      [['a', 'decommissioned']],
      { healthy: -1, inService: -1 },
    ],
    [
      'a repeated state changes nothing',
      [['a', 'draining']],
      [['a', 'draining']],
      { healthy: 0, inService: 0 },
    ],
    [
      'undrain back to healthy and degraded',
      [
        ['a', 'draining'],
        ['b', 'draining'],
      ],
      [
        ['a', 'healthy'],
        ['b', 'degraded'],
      ],
      { healthy: 1, inService: 0 },
    ],
  ])('%s', (_name, before, changes, expected) => {
    expect(
      fleetDelta(
        new Map(before),
        changes.map(([gpuId, health]) => ({ gpuId, health })),
      ),
    ).toEqual(expected);
  });

  it('reads the GPUs and class of each inventory event that moves health, and nothing from the others', () => {
    expect(
      healthChangesOf({
        type: 'inventory.NodeDrainStarted',
        payload: {
          nodeId: 'n',
          rackId: 'r',
          hallId: 'h',
          gpuClass: 'H200',
          gpuIds: ['g1', 'g2'],
          reason: 'x',
        },
      }),
    ).toEqual({
      gpuClass: 'H200',
      changes: [
        { gpuId: 'g1', health: 'draining' },
        { gpuId: 'g2', health: 'draining' },
      ],
    });
    expect(healthChangesOf({ type: 'inventory.PowerBudgetChanged', payload: {} })).toBeUndefined();
    expect(HEALTH_EVENT_TYPES.has('inventory.PowerBudgetChanged')).toBe(false);
    expect(HEALTH_EVENT_TYPES.has('inventory.NodeDecommissioned')).toBe(true);
  });

  it('integrates the count over each hour: 16 GPUs, 4 fail at 00:30, 2 come back at 01:15', () => {
    const perHour = gpuMsPerHour(
      16,
      [
        { atMs: T('00:30'), delta: -4 },
        { atMs: T('01:15'), delta: 2 },
      ],
      T('00:00'),
      T('03:00'),
    );
    expect([...perHour.values()].map((ms) => ms / 1000)).toEqual([
      16 * 1800 + 12 * 1800,
      12 * 900 + 14 * 2700,
      14 * 3600,
    ]);
  });

  it('a change exactly on an hour boundary counts from that hour on', () => {
    const perHour = gpuMsPerHour(0, [{ atMs: T('01:00'), delta: 8 }], T('00:00'), T('02:00'));
    expect([...perHour.values()]).toEqual([0, 8 * HOUR_MS]);
  });

  it.each([
    ['40% of the healthy fleet allocated', 40, 100, 0.4],
    ['85%', 85, 100, 0.85],
    ['no fleet known', 10, 0, null],
  ])('allocated share of healthy: %s', (_name, allocated, healthy, share) => {
    expect(allocatedShareOfHealthy(allocated, healthy)).toBe(share);
  });
});
