import { allocation } from '@fleetledger/contracts';
import { rackId } from '../../test/fleet-builder';
import { T0, TERM, World } from '../../test/allocation-world';
import { LeaseCommand } from './lease';
import { decideQuotaChange, QuotaCommand } from './quota';
import { DEFAULT_ROUTES, decideRoutingChange } from './routing';

const H100 = { gpuClass: 'H100' as const };
const sign = (over: Partial<Extract<LeaseCommand, { kind: 'sign' }>>): LeaseCommand => ({
  kind: 'sign',
  leaseId: 'new',
  tenantId: 'beta',
  term: TERM,
  committedGpus: { H100: 8 },
  exclusivity: 'shared',
  scope: { hallIds: [], rackIds: [] },
  ratePlanId: 'rp',
  author: 'sales',
  at: T0,
  ...over,
});

describe('leases', () => {
  // Fleet: two H100 racks of 32 GPUs; lease-a holds rack 1 exclusively through 2026.
  const world = () => {
    const w = new World([{ racks: [H100, H100] }]);
    w.activeLease('lease-a', 'acme', { H100: 32 }, { hallIds: [], rackIds: [rackId(1, 1)] });
    return w;
  };
  it.each<[string, LeaseCommand, string | null]>([
    ['a shared lease within the fleet is signed', sign({}), null],
    [
      'an exclusive lease on the other rack is signed',
      sign({ exclusivity: 'exclusive', scope: { hallIds: [], rackIds: [rackId(1, 2)] } }),
      null,
    ],
    [
      'an exclusive lease on the same rack in the same term is refused',
      sign({ exclusivity: 'exclusive', scope: { hallIds: [], rackIds: [rackId(1, 1)] } }),
      'exclusive-overlap',
    ],
    [
      'an exclusive lease on the whole hall overlaps the rack too',
      sign({
        exclusivity: 'exclusive',
        committedGpus: { H100: 8 },
        scope: { hallIds: ['s1-h01'], rackIds: [] },
      }),
      'exclusive-overlap',
    ],
    [
      'the same rack after the term ends is free to lease',
      sign({
        exclusivity: 'exclusive',
        term: { start: TERM.end, end: '2028-01-01T00:00:00.000Z' },
        scope: { hallIds: [], rackIds: [rackId(1, 1)] },
      }),
      null,
    ],
    [
      'committing more than the fleet holds is refused',
      sign({ committedGpus: { H100: 33 } }),
      'beyond-fleet',
    ],
    ['committing a class the fleet lacks is refused', sign({ committedGpus: { GB200: 1 } }), 'beyond-fleet'],
    [
      'an exclusive lease committing more than its racks hold is refused',
      sign({
        exclusivity: 'exclusive',
        committedGpus: { H100: 40 },
        scope: { hallIds: [], rackIds: [rackId(1, 2)] },
      }),
      'beyond-scope',
    ],
    ['an exclusive lease without scope is refused', sign({ exclusivity: 'exclusive' }), 'invalid'],
    [
      'a shared lease with a scope is refused',
      sign({ scope: { hallIds: [], rackIds: [rackId(1, 2)] } }),
      'invalid',
    ],
    ['signing an existing lease id is refused', sign({ leaseId: 'lease-a' }), 'duplicate'],
    [
      'activating twice is refused',
      { kind: 'activate', leaseId: 'lease-a', author: 'ops', at: T0 },
      'wrong-status',
    ],
    [
      'amending beyond the fleet is refused',
      {
        kind: 'amend',
        leaseId: 'lease-a',
        term: TERM,
        committedGpus: { H100: 65 },
        reason: 'grow',
        author: 'sales',
        at: T0,
      },
      'beyond-scope',
    ],
  ])('%s', (_name, command, reason) => {
    const result = world().lease(command);
    if (reason === null) expect(Array.isArray(result)).toBe(true);
    else expect(result).toMatchObject({ kind: 'rejected', reason });
  });

  it('a terminated exclusive lease returns its racks to shared capacity', () => {
    const w = world();
    w.activeLease('lease-b', 'beta', { H100: 8 });
    w.quota('beta', 'H100', 'training', { kind: 'set', nominal: 64, borrowLimit: 0 });
    // lease-a fences the racks for all of lease-b's term: refused, naming the lease in the way (issue #15).
    const refused = w.submit({ workloadId: 'x', tenantId: 'beta', gpuCount: 64, gang: false });
    expect(refused.at(-1)?.payload).toMatchObject({ reason: 'lease-exclusive' });
    expect((refused.at(-1)?.payload as { detail: string }).detail).toContain('lease-a');
    w.apply(w.lease({ kind: 'terminate', leaseId: 'lease-a', reason: 'ended', author: 'ops', at: T0 }));
    const again = w.submit({ workloadId: 'y', tenantId: 'beta', gpuCount: 64, gang: false });
    expect(again.map((e) => e.type)).toContain(allocation.WorkloadPlaced.type);
  });
});

describe('quotas', () => {
  const base = new Map([['H100/training', { nominal: 100, borrowLimit: 10 }]]);
  const change = (c: QuotaCommand, quotas = base) =>
    decideQuotaChange(quotas, {
      tenantId: 'acme',
      gpuClass: 'H100',
      workloadClass: 'training',
      change: c,
      reason: 'Claude Code limits',
      author: 'cap',
      at: T0,
    });
  it.each<[string, QuotaCommand, { nominal: number; borrowLimit: number } | string]>([
    ['x2 doubles both limits', { kind: 'multiply', factor: 2 }, { nominal: 200, borrowLimit: 20 }],
    ['x15 multiplies both limits', { kind: 'multiply', factor: 15 }, { nominal: 1500, borrowLimit: 150 }],
    [
      'x1.25 rounds down to whole GPUs',
      { kind: 'multiply', factor: 1.25 },
      { nominal: 125, borrowLimit: 12 },
    ],
    ['x0.5 halves', { kind: 'multiply', factor: 0.5 }, { nominal: 50, borrowLimit: 5 }],
    ['set replaces', { kind: 'set', nominal: 7, borrowLimit: 0 }, { nominal: 7, borrowLimit: 0 }],
    ['a zero factor is invalid', { kind: 'multiply', factor: 0 }, 'invalid'],
    ['x1 changes nothing', { kind: 'multiply', factor: 1 }, 'unchanged'],
    ['negative GPUs are invalid', { kind: 'set', nominal: -1, borrowLimit: 0 }, 'invalid'],
  ])('%s', (_name, command, expected) => {
    const result = change(command);
    if (typeof expected === 'string') expect(result).toMatchObject({ kind: 'rejected', reason: expected });
    else {
      expect(Array.isArray(result)).toBe(true);
      const payload = (result as { payload: allocation.QuotaChangedPayload }[])[0].payload;
      expect(payload).toMatchObject({
        ...expected,
        previous: { nominal: 100, borrowLimit: 10 },
        reason: 'Claude Code limits',
        author: 'cap',
      });
    }
  });

  it('multiplying a quota that was never set is refused', () => {
    expect(change({ kind: 'multiply', factor: 2 }, new Map())).toMatchObject({
      kind: 'rejected',
      reason: 'invalid',
    });
  });
});

describe('routing policy', () => {
  it('changes are events that carry the previous policy', () => {
    const routes = { ...DEFAULT_ROUTES, agentic: ['GB200', 'H200'] as allocation.GpuClass[] };
    const result = decideRoutingChange(DEFAULT_ROUTES, {
      routes,
      reason: 'agents want NVL72',
      author: 'ops',
      at: T0,
    });
    expect(result).toEqual([
      expect.objectContaining({ payload: expect.objectContaining({ routes, previous: DEFAULT_ROUTES }) }),
    ]);
  });
  it('a class listed twice is refused', () => {
    const routes = { ...DEFAULT_ROUTES, agentic: ['H200', 'H200'] as allocation.GpuClass[] };
    expect(decideRoutingChange(DEFAULT_ROUTES, { routes, reason: 'x', author: 'ops', at: T0 })).toMatchObject(
      { reason: 'invalid' },
    );
  });
});
