import { EventRegistry } from '../registry';
import { allInventoryEvents, NodesCommissioned, RackRegistered } from './events';
import { fleetIdSchema } from './fleet';

describe('inventory contracts', () => {
  const registry = new EventRegistry(allInventoryEvents);

  it('every event type is registered once, under the inventory namespace', () => {
    const types = allInventoryEvents.map((d) => d.type);
    expect(new Set(types).size).toBe(types.length);
    expect(types.every((t) => t.startsWith('inventory.'))).toBe(true);
  });

  it.each([
    ['a readable rack id', 'col1-h01-r001', true],
    ['an id with capitals', 'Col1', false],
    ['an id with spaces', 'col1 h01', false],
    ['an empty id', '', false],
  ])('fleet id: %s', (_name, id, ok) => {
    expect(fleetIdSchema.safeParse(id).success).toBe(ok);
  });

  it('accepts a commissioned HGX node and refuses fractional watts', () => {
    const payload = {
      rackId: 'col1-h01-r001',
      hallId: 'col1-h01',
      siteId: 'col1',
      gpuClass: 'H100',
      rackDrawW: 10200,
      nodes: [
        {
          nodeId: 'col1-h01-r001-n01',
          nominalPowerW: 10200,
          gpus: [
            {
              gpuId: 'col1-h01-r001-n01-g0',
              memoryGb: 80,
              nvlinkDomain: 'col1-h01-r001-n01-nvl',
              health: 'healthy',
            },
          ],
        },
      ],
    };
    expect(registry.validateNew(NodesCommissioned.type, payload).ok).toBe(true);
    expect(registry.validateNew(NodesCommissioned.type, { ...payload, rackDrawW: 10.5 }).ok).toBe(false);
  });

  it('refuses a rack of an unknown GPU class', () => {
    const result = registry.validateNew(RackRegistered.type, {
      rackId: 'col1-h01-r001',
      hallId: 'col1-h01',
      siteId: 'col1',
      gpuClass: 'A100',
      form: 'hgx',
      nvlinkDomain: null,
      powerBudgetW: 45000,
    });
    expect(result.ok).toBe(false);
  });
});
