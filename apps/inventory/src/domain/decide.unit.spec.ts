import { inventory } from '@fleetledger/contracts';
import { InventoryCommand } from './commands';
import { decide, Decision } from './decide';
import { evolveAll } from './evolve';
import { emptyFleet, Fleet } from './fleet';
import { isRejection } from './rejection';

/** Runs commands in order against a fleet, applying each accepted decision; fails on a rejection. */
function given(commands: InventoryCommand[], fleet: Fleet = emptyFleet()): Fleet {
  for (const command of commands) {
    const decision = decide(fleet, command);
    if (isRejection(decision)) throw new Error(`setup command ${command.kind} rejected: ${decision.detail}`);
    evolveAll(fleet, decision);
  }
  return fleet;
}

const hgxNode = (nodeId: string, nominalPowerW = 10_200, gpus = 8) => ({
  nodeId,
  nominalPowerW,
  gpus: Array.from({ length: gpus }, (_, i) => ({ gpuId: `${nodeId}-g${i}` })),
});
const trays = (rackId: string, count: number, from = 1) =>
  Array.from({ length: count }, (_, i) =>
    hgxNode(`${rackId}-n${String(from + i).padStart(2, '0')}`, 6_000, 4),
  );

const base: InventoryCommand[] = [
  { kind: 'register-site', body: { siteId: 'col1', name: 'Colossus 1', powerCapW: 300_000 } },
  { kind: 'register-hall', body: { hallId: 'col1-h01', siteId: 'col1', name: 'Hall 1', powerCapW: 100_000 } },
  {
    kind: 'register-rack',
    body: { rackId: 'col1-h01-r001', hallId: 'col1-h01', gpuClass: 'H100', powerBudgetW: 45_000 },
  },
  {
    kind: 'register-rack',
    body: { rackId: 'col1-h01-r002', hallId: 'col1-h01', gpuClass: 'GB200', powerBudgetW: 120_000 },
  },
  {
    kind: 'commission-nodes',
    body: { rackId: 'col1-h01-r001', nodes: [hgxNode('col1-h01-r001-n01'), hgxNode('col1-h01-r001-n02')] },
  },
];

const drained = (...extra: InventoryCommand[]) => given([...base, ...extra]);

type Case = [
  name: string,
  setup: () => Fleet,
  command: InventoryCommand,
  expected: { reason: string } | { types: string[] },
];

const cases: Case[] = [
  [
    'a new site is registered',
    emptyFleet,
    { kind: 'register-site', body: { siteId: 'col2', name: 'Colossus 2', powerCapW: 1 } },
    { types: ['inventory.SiteRegistered'] },
  ],
  ['re-registering an identical site changes nothing', () => given(base), base[0], { types: [] }],
  [
    'a site id reused with another cap is refused',
    () => given(base),
    { kind: 'register-site', body: { siteId: 'col1', name: 'Colossus 1', powerCapW: 1 } },
    { reason: 'already-registered' },
  ],
  ['a hall in an unknown site is refused', emptyFleet, base[1], { reason: 'unknown-site' }],
  [
    'a rack in an unknown hall is refused',
    () => given(base.slice(0, 1)),
    base[2],
    { reason: 'unknown-hall' },
  ],
  [
    'commissioning into an unknown rack is refused',
    () => given(base),
    { kind: 'commission-nodes', body: { rackId: 'col1-h01-r999', nodes: [hgxNode('x-n01')] } },
    { reason: 'unknown-rack' },
  ],
  [
    'a node of 8 GPUs is commissioned within budget',
    () => given(base.slice(0, 3)),
    base[4],
    { types: ['inventory.NodesCommissioned'] },
  ],
  ['re-commissioning the same nodes changes nothing', () => given(base), base[4], { types: [] }],
  [
    'a GPU already in another node is refused',
    () => given(base),
    {
      kind: 'commission-nodes',
      body: {
        rackId: 'col1-h01-r001',
        nodes: [
          {
            nodeId: 'col1-h01-r001-n03',
            nominalPowerW: 10_200,
            gpus: [...hgxNode('col1-h01-r001-n01').gpus],
          },
        ],
      },
    },
    { reason: 'gpu-in-two-nodes' },
  ],
  [
    'a GPU listed twice in one command is refused',
    () => given(base.slice(0, 3)),
    {
      kind: 'commission-nodes',
      body: {
        rackId: 'col1-h01-r001',
        nodes: [
          hgxNode('col1-h01-r001-n01'),
          { ...hgxNode('col1-h01-r001-n02'), gpus: hgxNode('col1-h01-r001-n01').gpus },
        ],
      },
    },
    { reason: 'gpu-in-two-nodes' },
  ],
  [
    'an H100 node with 4 GPUs is refused',
    () => given(base),
    {
      kind: 'commission-nodes',
      body: { rackId: 'col1-h01-r001', nodes: [hgxNode('col1-h01-r001-n03', 10_200, 4)] },
    },
    { reason: 'invalid-node-shape' },
  ],
  [
    'a node that would put the rack over its power budget is refused',
    () => given(base),
    {
      kind: 'commission-nodes',
      body: {
        rackId: 'col1-h01-r001',
        nodes: [hgxNode('col1-h01-r001-n03'), hgxNode('col1-h01-r001-n04', 15_000)],
      },
    },
    { reason: 'rack-power-budget-exceeded' },
  ],
  [
    '13 trays of an NVL72 rack are commissioned',
    () => given(base),
    { kind: 'commission-nodes', body: { rackId: 'col1-h01-r002', nodes: trays('col1-h01-r002', 13) } },
    { types: ['inventory.NodesCommissioned'] },
  ],
  [
    'a 19th tray in an NVL72 rack is refused',
    () =>
      given([
        ...base,
        {
          kind: 'change-power-budget',
          body: { scope: 'rack', scopeId: 'col1-h01-r002', budgetW: 200_000, reason: 'test' },
        },
        { kind: 'commission-nodes', body: { rackId: 'col1-h01-r002', nodes: trays('col1-h01-r002', 10) } },
      ]),
    { kind: 'commission-nodes', body: { rackId: 'col1-h01-r002', nodes: trays('col1-h01-r002', 9, 11) } },
    { reason: 'rack-full' },
  ],
  [
    'commissioning beyond the hall power cap is refused',
    () =>
      given([
        ...base,
        { kind: 'commission-nodes', body: { rackId: 'col1-h01-r002', nodes: trays('col1-h01-r002', 13) } },
      ]),
    { kind: 'commission-nodes', body: { rackId: 'col1-h01-r002', nodes: trays('col1-h01-r002', 1, 14) } },
    { reason: 'hall-power-cap-exceeded' },
  ],
  [
    'commissioning beyond the site power cap is refused',
    () =>
      given([
        ...base,
        {
          kind: 'change-power-budget',
          body: { scope: 'site', scopeId: 'col1', budgetW: 80_000, reason: 'grid limit' },
        },
        { kind: 'commission-nodes', body: { rackId: 'col1-h01-r002', nodes: trays('col1-h01-r002', 9) } },
      ]),
    { kind: 'commission-nodes', body: { rackId: 'col1-h01-r002', nodes: trays('col1-h01-r002', 1, 10) } },
    { reason: 'site-power-cap-exceeded' },
  ],
  [
    'a health report for an unknown GPU is refused',
    () => given(base),
    {
      kind: 'report-gpu-health',
      body: { gpuId: 'col1-h01-r001-n09-g0', health: 'failed', reason: 'xid 79' },
    },
    { reason: 'unknown-gpu' },
  ],
  [
    'a failed GPU is recorded',
    () => given(base),
    {
      kind: 'report-gpu-health',
      body: { gpuId: 'col1-h01-r001-n01-g3', health: 'failed', reason: 'xid 79' },
    },
    { types: ['inventory.GpuHealthChanged'] },
  ],
  [
    'reporting the health a GPU already has changes nothing',
    () => given(base),
    {
      kind: 'report-gpu-health',
      body: { gpuId: 'col1-h01-r001-n01-g3', health: 'healthy', reason: 'probe' },
    },
    { types: [] },
  ],
  [
    'a node is drained',
    () => given(base),
    { kind: 'drain-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'firmware' } },
    { types: ['inventory.NodeDrainStarted'] },
  ],
  [
    'draining an unknown node is refused',
    () => given(base),
    { kind: 'drain-node', body: { nodeId: 'col1-h01-r001-n77', reason: 'firmware' } },
    { reason: 'unknown-node' },
  ],
  [
    'a node that is not drained cannot be decommissioned',
    () => given(base),
    { kind: 'decommission-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'end of life' } },
    { reason: 'node-not-drained' },
  ],
  [
    'a drained node is decommissioned',
    () => drained({ kind: 'drain-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'eol' } }),
    { kind: 'decommission-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'end of life' } },
    { types: ['inventory.NodeDecommissioned'] },
  ],
  [
    'a node in a drained rack is decommissioned',
    () => drained({ kind: 'drain-rack', body: { rackId: 'col1-h01-r001', reason: 'eol' } }),
    { kind: 'decommission-node', body: { nodeId: 'col1-h01-r001-n02', reason: 'end of life' } },
    { types: ['inventory.NodeDecommissioned'] },
  ],
  [
    'a decommissioned GPU cannot report health',
    () =>
      drained(
        { kind: 'drain-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'eol' } },
        { kind: 'decommission-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'eol' } },
      ),
    {
      kind: 'report-gpu-health',
      body: { gpuId: 'col1-h01-r001-n01-g0', health: 'healthy', reason: 'probe' },
    },
    { reason: 'node-decommissioned' },
  ],
  [
    'a decommissioned GPU id cannot be commissioned again',
    () =>
      drained(
        { kind: 'drain-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'eol' } },
        { kind: 'decommission-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'eol' } },
      ),
    {
      kind: 'commission-nodes',
      body: {
        rackId: 'col1-h01-r001',
        nodes: [{ ...hgxNode('col1-h01-r001-n03'), gpus: hgxNode('col1-h01-r001-n01').gpus }],
      },
    },
    { reason: 'gpu-in-two-nodes' },
  ],
  [
    'a rack budget below its nominal draw is a cap, accepted (allocation places within it)',
    () => given(base),
    {
      kind: 'change-power-budget',
      body: { scope: 'rack', scopeId: 'col1-h01-r001', budgetW: 20_000, reason: 'cooling' },
    },
    { types: ['inventory.PowerBudgetChanged'] },
  ],
  [
    'a rack budget below its idle draw is refused: no placement could ever meet it',
    () => given(base),
    {
      kind: 'change-power-budget',
      body: { scope: 'rack', scopeId: 'col1-h01-r001', budgetW: 5_000, reason: 'cooling' },
    },
    { reason: 'budget-below-draw' },
  ],
  [
    'a hall cap is raised',
    () => given(base),
    {
      kind: 'change-power-budget',
      body: { scope: 'hall', scopeId: 'col1-h01', budgetW: 150_000, reason: 'new feed' },
    },
    { types: ['inventory.PowerBudgetChanged'] },
  ],
  [
    'a budget for an unknown rack is refused',
    () => given(base),
    {
      kind: 'change-power-budget',
      body: { scope: 'rack', scopeId: 'col1-h09-r001', budgetW: 1, reason: 'x' },
    },
    { reason: 'unknown-rack' },
  ],
];

describe('decide', () => {
  it.each(cases)('%s', (_name, setup, command, expected) => {
    const fleet = setup();
    const decision: Decision = decide(fleet, command);
    const outcome = isRejection(decision)
      ? { reason: decision.reason }
      : { types: decision.map((e) => e.type) };
    expect(outcome).toEqual(expected);
  });

  it('does not change the fleet it decides on', () => {
    const fleet = given(base);
    const before = JSON.stringify([...fleet.gpus.values()]);
    decide(fleet, { kind: 'drain-rack', body: { rackId: 'col1-h01-r001', reason: 'x' } });
    expect(JSON.stringify([...fleet.gpus.values()])).toBe(before);
  });
});

describe('health through drain and undrain', () => {
  const gpu = 'col1-h01-r001-n01-g3';
  const healthOf = (fleet: Fleet) => fleet.gpus.get(gpu)!.health;

  it('a GPU that failed while its rack drained comes back failed, its healthy neighbours come back healthy', () => {
    const fleet = given([
      ...base,
      { kind: 'drain-rack', body: { rackId: 'col1-h01-r001', reason: 'cooling' } },
      { kind: 'report-gpu-health', body: { gpuId: gpu, health: 'failed', reason: 'xid 79' } },
    ]);
    expect(healthOf(fleet)).toBe('draining');
    const undrain = decide(fleet, {
      kind: 'undrain-rack',
      body: { rackId: 'col1-h01-r001', reason: 'done' },
    });
    if (isRejection(undrain)) throw new Error(undrain.detail);
    const payload = undrain[0].payload as inventory.RackUndrainedPayload;
    expect(payload.gpus.find((g) => g.gpuId === gpu)?.health).toBe('failed');
    expect(payload.gpus.filter((g) => g.health === 'healthy')).toHaveLength(15);
    evolveAll(fleet, undrain);
    expect(healthOf(fleet)).toBe('failed');
  });

  it('undraining a rack leaves a separately drained node draining', () => {
    const fleet = given([
      ...base,
      { kind: 'drain-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'firmware' } },
      { kind: 'drain-rack', body: { rackId: 'col1-h01-r001', reason: 'cooling' } },
      { kind: 'undrain-rack', body: { rackId: 'col1-h01-r001', reason: 'done' } },
    ]);
    expect(healthOf(fleet)).toBe('draining');
    expect(fleet.gpus.get('col1-h01-r001-n02-g0')!.health).toBe('healthy');
  });

  it('decommissioning releases the node power at rack, hall and site', () => {
    const fleet = given([
      ...base,
      { kind: 'drain-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'eol' } },
      { kind: 'decommission-node', body: { nodeId: 'col1-h01-r001-n01', reason: 'eol' } },
    ]);
    expect(fleet.racks.get('col1-h01-r001')!.drawW).toBe(10_200);
    expect(fleet.halls.get('col1-h01')!.drawW).toBe(10_200);
    expect(fleet.sites.get('col1')!.drawW).toBe(10_200);
    expect(healthOf(fleet)).toBe('decommissioned');
  });

  it('nodes commissioned into a drained rack start draining', () => {
    const fleet = given([
      ...base,
      { kind: 'drain-rack', body: { rackId: 'col1-h01-r001', reason: 'bring-up' } },
      { kind: 'commission-nodes', body: { rackId: 'col1-h01-r001', nodes: [hgxNode('col1-h01-r001-n03')] } },
    ]);
    expect(fleet.gpus.get('col1-h01-r001-n03-g0')!.health).toBe('draining');
  });
});
