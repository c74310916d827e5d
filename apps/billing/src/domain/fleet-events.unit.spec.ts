import type { inventory } from '@fleetledger/contracts';
import { gpuHealthFacts } from './fleet-events';

const where = { rackId: 'r1', hallId: 'h1', gpuClass: 'H100' as const };
const reason = 'maintenance';

describe('GPU availability facts from inventory events', () => {
  it.each<[string, inventory.InventoryEvent, [string, boolean][]]>([
    [
      'a GPU reported failed is unavailable',
      {
        type: 'inventory.GpuHealthChanged',
        payload: {
          ...where,
          gpuId: 'g0',
          nodeId: 'n1',
          from: 'healthy',
          to: 'failed',
          health: 'failed',
          reason,
        },
      },
      [['g0', false]],
    ],
    [
      'a degraded GPU still serves: available',
      {
        type: 'inventory.GpuHealthChanged',
        payload: {
          ...where,
          gpuId: 'g0',
          nodeId: 'n1',
          from: 'healthy',
          to: 'degraded',
          health: 'degraded',
          reason,
        },
      },
      [['g0', true]],
    ],
    [
      'a GPU reported healthy inside a drained node stays unavailable (effective health draining)',
      {
        type: 'inventory.GpuHealthChanged',
        payload: {
          ...where,
          gpuId: 'g0',
          nodeId: 'n1',
          from: 'failed',
          to: 'healthy',
          health: 'draining',
          reason,
        },
      },
      [['g0', false]],
    ],
    [
      'a rack drain takes every GPU listed',
      {
        type: 'inventory.RackDrainStarted',
        payload: { ...where, nodeIds: ['n1'], gpuIds: ['g0', 'g1'], reason },
      },
      [
        ['g0', false],
        ['g1', false],
      ],
    ],
    [
      'an undrain gives each GPU its effective health',
      {
        type: 'inventory.NodeUndrained',
        payload: {
          ...where,
          nodeId: 'n1',
          gpus: [
            { gpuId: 'g0', nodeId: 'n1', health: 'healthy' },
            { gpuId: 'g1', nodeId: 'n1', health: 'failed' },
          ],
          reason,
        },
      },
      [
        ['g0', true],
        ['g1', false],
      ],
    ],
    [
      'power budgets say nothing about GPUs',
      {
        type: 'inventory.PowerBudgetChanged',
        payload: { scope: 'rack', scopeId: 'r1', siteId: 's1', hallId: 'h1', fromW: 1, toW: 2, reason },
      },
      [],
    ],
  ])('%s', (_case, event, expected) => {
    expect(gpuHealthFacts(event).map((fact) => [fact.gpuId, fact.available])).toEqual(expected);
  });
});
