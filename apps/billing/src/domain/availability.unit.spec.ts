import { AvailabilityChange, ClassFleet, GpuAvailability, leaseOutages, poolShortfall } from './availability';
import { composeInvoiceLines } from './invoice-lines';
import { LeaseTerms } from './leases';
import { rateUsage } from './rating';
import { lease, usageRecorded, usdPlan } from '../../test/fixtures';

const at = (iso: string) => Date.parse(iso);
const NOV = { startMs: at('2026-11-01T00:00:00Z'), endMs: at('2026-12-01T00:00:00Z') };

/** GPUs g0..g(n-1) of a rack, all healthy since commissioning in October. */
function rack(rackId: string, hallId: string, count: number): GpuAvailability[] {
  return Array.from({ length: count }, (_, i) => ({
    gpuId: `${rackId}-g${i}`,
    rackId,
    hallId,
    available: true,
    eventId: `commissioned-${rackId}`,
  }));
}
function change(gpu: GpuAvailability, iso: string, available: boolean, eventId: string): AvailabilityChange {
  return { ...gpu, atMs: at(iso), available, eventId };
}
const r1 = rack('r1', 'h1', 8);
const r2 = rack('r2', 'h1', 8);
const exclusive = (leaseId: string, committed: number, scope: { rackIds?: string[]; hallIds?: string[] }) =>
  lease({
    leaseId,
    committedGpus: { H100: committed },
    exclusivity: 'exclusive',
    scope: { rackIds: scope.rackIds ?? [], hallIds: scope.hallIds ?? [] },
  });
const shared = (leaseId: string, committed: number, tenantId = 'tenant-a') =>
  lease({ leaseId, tenantId, committedGpus: { H100: committed }, exclusivity: 'shared' });

function outages(leases: LeaseTerms[], fleet: ClassFleet, all: LeaseTerms[] = leases) {
  return leaseOutages({ period: '2026-11', leases, allLeases: all, fleet: () => fleet }).map((o) => [
    o.leaseId,
    o.unavailableGpuSeconds,
    o.sourceEventIds,
  ]);
}

describe('healthy capacity under a lease (pure)', () => {
  it.each([
    [
      'exclusive rack lease of 8 on 8 GPUs: one GPU failed for a day -> 86,400 GPU-s',
      [exclusive('L', 8, { rackIds: ['r1'] })],
      {
        initial: [...r1, ...r2],
        changes: [
          change(r1[0], '2026-11-10T00:00:00Z', false, 'failed'),
          change(r1[0], '2026-11-11T00:00:00Z', true, 'repaired'),
        ],
      },
      [['L', 86_400n, ['failed']]],
    ],
    [
      'a spare GPU in scope absorbs a failure: commits 7 of 8, one fails -> nothing',
      [exclusive('L', 7, { rackIds: ['r1'] })],
      { initial: r1, changes: [change(r1[3], '2026-11-10T00:00:00Z', false, 'failed')] },
      [],
    ],
    [
      'failures outside the scope do not count (r2 is not leased)',
      [exclusive('L', 8, { rackIds: ['r1'] })],
      { initial: [...r1, ...r2], changes: [change(r2[0], '2026-11-10T00:00:00Z', false, 'failed-r2')] },
      [],
    ],
    [
      'a rack drained for two hours: 8 GPUs x 7,200 s',
      [exclusive('L', 8, { hallIds: ['h1'] })],
      {
        initial: r1,
        changes: [
          ...r1.map((gpu) => change(gpu, '2026-11-20T10:00:00Z', false, 'drain')),
          ...r1.map((gpu) => change(gpu, '2026-11-20T12:00:00Z', true, 'undrain')),
        ],
      },
      [['L', 57_600n, ['drain']]],
    ],
    [
      'a GPU failed since October is short from the month start (its October event is the source)',
      [exclusive('L', 8, { rackIds: ['r1'] })],
      {
        initial: [{ ...r1[0], available: false, eventId: 'failed-in-october' }, ...r1.slice(1)],
        changes: [change(r1[0], '2026-11-02T00:00:00Z', true, 'repaired')],
      },
      [['L', 86_400n, ['failed-in-october']]],
    ],
    [
      'shared leases of 6 and 2 on an 8-GPU pool: 2 GPUs down 10 h, carried 3:1',
      [shared('A', 6), shared('B', 2)],
      {
        initial: r1,
        changes: [
          change(r1[0], '2026-11-05T00:00:00Z', false, 'f0'),
          change(r1[1], '2026-11-05T00:00:00Z', false, 'f1'),
          change(r1[0], '2026-11-05T10:00:00Z', true, 'ok0'),
          change(r1[1], '2026-11-05T10:00:00Z', true, 'ok1'),
        ],
      },
      [
        ['A', 54_000n, ['f0', 'f1']],
        ['B', 18_000n, ['f0', 'f1']],
      ],
    ],
  ] as const)('%s', (_case, leases, fleet, expected) => {
    expect(outages([...leases], fleet as ClassFleet)).toEqual(expected);
  });

  it("an exclusive lease's racks are fenced off the shared pool while its term runs", () => {
    const fleet: ClassFleet = {
      initial: [...r1, ...r2],
      changes: [change(r1[0], '2026-11-10T00:00:00Z', false, 'failed-fenced')],
    };
    const all = [shared('S', 8, 'tenant-b'), exclusive('X', 7, { rackIds: ['r1'] })];
    // r1 belongs to X (which has a spare): S draws on r2 alone, which is whole.
    expect(outages([all[0]], fleet, all)).toEqual([]);
    const small: ClassFleet = {
      initial: [...r1, ...r2.slice(0, 7)],
      changes: [change(r2[0], '2026-11-10T00:00:00Z', false, 'failed-shared')],
    };
    // 7 GPUs for a commitment of 8: not an outage by itself (no GPU went down); from the failure on Nov 10 the
    // pool has 6 of 8, but only the failed GPU counts: 1 GPU x 21 days.
    expect(outages([all[0]], small, all)).toEqual([['S', 21n * 86_400n, ['failed-shared']]]);
  });

  it('a lease that starts mid-month is short only within its term', () => {
    const late = {
      ...exclusive('L', 8, { rackIds: ['r1'] }),
      term: { startMs: at('2026-11-20T00:00:00Z'), endMs: NOV.endMs },
    };
    const fleet: ClassFleet = {
      initial: r1,
      changes: [change(r1[0], '2026-11-10T00:00:00Z', false, 'failed')],
    };
    expect(outages([late], fleet)).toEqual([['L', 11n * 86_400n, ['failed']]]);
  });

  it('an amendment raising the commitment from its effective date makes a spare GPU count from then on', () => {
    const amended: LeaseTerms = {
      ...exclusive('L', 8, { rackIds: ['r1'] }),
      schedule: [
        {
          fromMs: NOV.startMs,
          committedGpus: { H100: 7 },
          ratePlanId: 'usd-standard',
          sourceEventId: 'signed',
        },
        {
          fromMs: at('2026-11-21T00:00:00Z'),
          committedGpus: { H100: 8 },
          ratePlanId: 'usd-standard',
          sourceEventId: 'amended',
        },
      ],
    };
    const fleet: ClassFleet = {
      initial: r1,
      changes: [change(r1[0], '2026-11-11T00:00:00Z', false, 'failed')],
    };
    expect(outages([amended], fleet)).toEqual([['L', 10n * 86_400n, ['failed']]]);
  });

  it('the same events in another order within one instant give the same shortfall', () => {
    const pool = {
      window: NOV,
      inPool: () => true,
      demandGpus: () => 8,
      breakpoints: [],
    };
    const a = change(r1[0], '2026-11-10T00:00:00Z', false, 'a');
    const b = change(r1[1], '2026-11-10T00:00:00Z', false, 'b');
    const one = poolShortfall({ initial: r1, changes: [a, b] }, pool);
    const other = poolShortfall({ initial: r1, changes: [b, a] }, pool);
    expect(one.map((s) => [s.startMs, s.endMs, s.shortfallGpus])).toEqual(
      other.map((s) => [s.startMs, s.endMs, s.shortfallGpus]),
    );
    expect(one).toEqual([expect.objectContaining({ startMs: a.atMs, endMs: NOV.endMs, shortfallGpus: 2 })]);
  });
});

describe('SLA credit on the invoice from an outage', () => {
  it('a GPU of an exclusive 8-GPU lease down for a day: 99.58 % -> 10 % of the committed charges, as a credit line', () => {
    const plan = usdPlan();
    const leased = exclusive('L', 8, { rackIds: ['r1'] });
    const [outage] = leaseOutages({
      period: '2026-11',
      leases: [leased],
      allLeases: [leased],
      fleet: () => ({
        initial: r1,
        changes: [
          change(r1[0], '2026-11-10T00:00:00Z', false, 'gpu-failed'),
          change(r1[0], '2026-11-11T00:00:00Z', true, 'gpu-repaired'),
        ],
      }),
    });
    const usage = rateUsage(
      usageRecorded({
        leaseId: 'L',
        gpuClass: 'H100',
        hourStart: '2026-11-02T00:00:00.000Z',
        gpuSeconds: '28800.000',
      }),
      [plan],
    );
    if (!Array.isArray(usage)) throw new Error(usage.detail);
    const composition = composeInvoiceLines({
      period: '2026-11',
      charges: usage,
      leases: [leased],
      planVersions: () => [plan],
      outages: [outage],
    });
    if (composition.kind === 'rejected') throw new Error(composition.detail);
    // committed charges: 8 GPU-h x 2.50 = 20.00 usage + 7,980.00 shortfall = 8,000.00; 10 % = 800.00
    expect(composition.credits).toEqual([
      expect.objectContaining({
        leaseId: 'L',
        availabilityBasisPoints: 9958,
        creditBasisPoints: 1000,
        amountMinor: 80_000n,
      }),
    ]);
    expect(composition.lines.find((line) => line.kind === 'sla-credit')).toEqual(
      expect.objectContaining({
        lineId: 'L:sla-credit:H100',
        amountMinor: '-80000',
        sourceEventIds: ['gpu-failed', 'signed-L'],
      }),
    );
  });
});

describe('shared leases with different windows', () => {
  it('a shared lease that starts mid-outage carries its share from its start only, and names the failure before it', () => {
    // pool of 8; A (6, all month) and B (2, from Nov 5 12:00); 2 GPUs down Nov 5 00:00 -> Nov 6 00:00
    const late = { ...shared('B', 2), term: { startMs: at('2026-11-05T12:00:00Z'), endMs: NOV.endMs } };
    const fleet: ClassFleet = {
      initial: r1,
      changes: [
        change(r1[0], '2026-11-05T00:00:00Z', false, 'f0'),
        change(r1[1], '2026-11-05T00:00:00Z', false, 'f1'),
        change(r1[0], '2026-11-06T00:00:00Z', true, 'ok0'),
        change(r1[1], '2026-11-06T00:00:00Z', true, 'ok1'),
      ],
    };
    // 00:00-12:00: demand 6, 6 available -> not short; 12:00-24:00: demand 8, short 2, A carries 1.5, B 0.5
    expect(outages([shared('A', 6), late], fleet)).toEqual([
      ['A', 64_800n, ['f0', 'f1']],
      ['B', 21_600n, ['f0', 'f1']],
    ]);
  });
});

describe('what is not an outage', () => {
  it('GPUs billing has never seen (commissioned later, or no inventory yet) credit nothing', () => {
    expect(outages([exclusive('L', 8, { rackIds: ['r1'] })], { initial: [], changes: [] })).toEqual([]);
    expect(
      outages([shared('S', 8)], {
        initial: [],
        changes: r1.map((gpu) => change(gpu, '2026-11-15T00:00:00Z', true, 'commissioned-late')),
      }),
    ).toEqual([]);
  });
});
