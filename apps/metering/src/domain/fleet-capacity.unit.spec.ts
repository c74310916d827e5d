import {
  allocatedShareOfHealthy,
  fleetDelta,
  FleetHealthEvent,
  foldFleetEvents,
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
  describe("folding many events at once (the projection's batch path)", () => {
    const ev = (gpuClass: 'H100' | 'H200', at: string, changes: [string, GpuHealth][]): FleetHealthEvent => ({
      gpuClass,
      at,
      changes: changes.map(([gpuId, health]) => ({ gpuId, health })),
    });

    it('each event counts against the health its predecessors left, and ends with the last health', () => {
      const fold = foldFleetEvents(new Map([['a', 'healthy']]), [
        ev('H100', '00:10', [['a', 'failed']]),
        ev('H100', '00:20', [['a', 'healthy']]),
        ev('H100', '00:20', [['b', 'healthy']]),
        // Out of order in time: the fold keeps log order, the key is the event's instant.
        ev('H100', '00:05', [['a', 'draining']]),
      ]);
      expect([...fold.classChanges.values()]).toEqual([
        { gpuClass: 'H100', at: '00:10', healthy: -1, inService: 0 },
        { gpuClass: 'H100', at: '00:20', healthy: 2, inService: 1 },
        { gpuClass: 'H100', at: '00:05', healthy: -1, inService: 0 },
      ]);
      expect(fold.gpus).toEqual(
        new Map([
          ['a', { gpuClass: 'H100', health: 'draining' }],
          ['b', { gpuClass: 'H100', health: 'healthy' }],
        ]),
      );
    });

    it('an event that moves nothing writes no row; two that cancel at one instant leave a 0 row', () => {
      const fold = foldFleetEvents(new Map([['a', 'draining']]), [
        ev('H100', '00:10', [['a', 'draining']]),
        ev('H200', '00:30', [['c', 'healthy']]),
        ev('H200', '00:30', [['c', 'decommissioned']]),
      ]);
      expect([...fold.classChanges.values()]).toEqual([
        { gpuClass: 'H200', at: '00:30', healthy: 0, inService: 0 },
      ]);
    });

    it('a GPU new to the fleet gets the class of the first event naming it', () => {
      const fold = foldFleetEvents(new Map(), [
        ev('H200', '00:10', [['x', 'healthy']]),
        ev('H100', '00:20', [['x', 'failed']]),
      ]);
      expect(fold.gpus.get('x')).toEqual({ gpuClass: 'H200', health: 'failed' });
    });

    it('folding in one go equals folding event by event', () => {
      const events = [
        ev('H100', '00:00', [
          ['a', 'healthy'],
          ['b', 'healthy'],
          ['a', 'degraded'],
        ]),
        ev('H100', '00:00', [['b', 'draining']]),
        ev('H100', '01:00', [
          ['b', 'healthy'],
          ['a', 'decommissioned'],
        ]),
      ];
      const whole = foldFleetEvents(new Map(), events);
      const state = new Map<string, GpuHealth>();
      const sums = new Map<string, { healthy: number; inService: number }>();
      for (const event of events) {
        const one = foldFleetEvents(state, [event]);
        for (const [gpuId, gpu] of one.gpus) state.set(gpuId, gpu.health);
        for (const [key, c] of one.classChanges) {
          const sum = sums.get(key) ?? { healthy: 0, inService: 0 };
          sums.set(key, { healthy: sum.healthy + c.healthy, inService: sum.inService + c.inService });
        }
      }
      expect(
        [...whole.classChanges].map(([key, c]) => [key, { healthy: c.healthy, inService: c.inService }]),
      ).toEqual([...sums]);
      expect([...whole.classChanges.values()].map((c) => [c.at, c.healthy, c.inService])).toEqual([
        ['00:00', 0, 2],
        ['01:00', 1, -1],
      ]);
    });
  });
});
