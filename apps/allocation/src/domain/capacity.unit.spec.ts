import { inventory } from '@fleetledger/contracts';
import { fleetEvents } from '../../test/fleet-builder';
import { CapacityView } from './capacity';

/** Inventory's site, hall and rack streams sit on different Kafka partitions: their events interleave freely. */
describe('capacity view: inventory events from different streams in any order', () => {
  const events = fleetEvents([{ racks: [{ gpuClass: 'H100' }, { gpuClass: 'H100' }, { gpuClass: 'H100' }] }]);
  const byType = (type: string) => events.filter((e) => e.type === type);
  const hallScope = { hallIds: ['s1-h01'], rackIds: [] };

  it.each<[string, inventory.InventoryEvent[]]>([
    ['site, hall, racks in log order', events],
    [
      'racks before their hall, hall before its site',
      [
        ...byType('inventory.RackRegistered'),
        ...byType('inventory.NodesCommissioned'),
        ...byType('inventory.HallRegistered'),
        ...byType('inventory.SiteRegistered'),
      ],
    ],
    ['hall registered between two racks', [events[2], events[3], events[1], ...events.slice(4), events[0]]],
  ])('%s: the hall holds all three racks and keeps its power cap', (_name, ordered) => {
    const view = new CapacityView();
    for (const event of ordered) view.applyInventoryEvent(event);
    expect(
      view
        .racksInScope(hallScope)
        .map((r) => r.rackId)
        .sort(),
    ).toEqual(['s1-h01-r001', 's1-h01-r002', 's1-h01-r003']);
    expect(view.racksInScope(hallScope)[0].hall.budgetW).toBe(100_000_000);
    expect(view.racksInScope(hallScope)[0].hall.site.budgetW).toBe(300_000_000);
  });
});
