import { COLOSSUS_SITE_CAP_W, generateColossusFleet } from './colossus-generator';
import { decide } from './decide';
import { evolveAll } from './evolve';
import { emptyFleet, Fleet } from './fleet';
import {
  countGpus,
  FleetDescription,
  importCommands,
  parseFleetDescription,
  toFleetFile,
} from './fleet-description';
import { isRejection } from './rejection';

const yamlFleet = `
site: { id: col1, name: Colossus 1, powerCapW: 300000000 }
halls:
  - id: col1-h01
    powerCapW: 1000000
    racks:
      - { id: col1-h01-r001, gpuClass: H100, powerBudgetW: 45000, nodeCount: 4, nodePowerW: 10200 }
      - id: col1-h01-r002
        gpuClass: GB200
        powerBudgetW: 120000
        nodes:
          - { id: col1-h01-r002-n01, nominalPowerW: 5900 }
          - { id: col1-h01-r002-n02, nominalPowerW: 5900, gpus: [sn-1, sn-2, sn-3, { id: sn-4, memoryGb: 192 }] }
`;

function importInto(fleet: Fleet, description: FleetDescription): { events: number; rejections: string[] } {
  let events = 0;
  const rejections: string[] = [];
  for (const command of importCommands(description)) {
    const decision = decide(fleet, command);
    if (isRejection(decision)) rejections.push(`${decision.reason}: ${decision.detail}`);
    else {
      events += decision.length;
      evolveAll(fleet, decision);
    }
  }
  return { events, rejections };
}

describe('fleet description file', () => {
  it('expands the YAML shorthands into nodes and GPU ids', () => {
    const parsed = parseFleetDescription(yamlFleet, 'yaml');
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const [h100, gb200] = parsed.fleet.racks;
    expect(h100.nodes.map((n) => n.nodeId)).toEqual([
      'col1-h01-r001-n01',
      'col1-h01-r001-n02',
      'col1-h01-r001-n03',
      'col1-h01-r001-n04',
    ]);
    expect(h100.nodes[0].gpus).toHaveLength(8);
    expect(gb200.nodes[0].gpus.map((g) => g.gpuId)).toEqual([
      'col1-h01-r002-n01-g0',
      'col1-h01-r002-n01-g1',
      'col1-h01-r002-n01-g2',
      'col1-h01-r002-n01-g3',
    ]);
    expect(gb200.nodes[1].gpus[3]).toEqual({ gpuId: 'sn-4', memoryGb: 192 });
    expect(countGpus(parsed.fleet)).toBe(40);
  });

  it('reads the same fleet from JSON', () => {
    const json = JSON.stringify({
      site: { id: 'col1', name: 'Colossus 1', powerCapW: 1000 },
      halls: [
        {
          id: 'col1-h01',
          powerCapW: 1000,
          racks: [
            {
              id: 'col1-h01-r001',
              gpuClass: 'H200',
              powerBudgetW: 900,
              nodes: [{ id: 'n1', nominalPowerW: 800, gpuCount: 8 }],
            },
          ],
        },
      ],
    });
    const parsed = parseFleetDescription(json, 'json');
    expect(parsed.ok && parsed.fleet.racks[0].nodes[0].gpus).toHaveLength(8);
  });

  it.each([
    ['broken YAML', 'site: [', /not valid yaml/],
    [
      'an unknown GPU class',
      'site: { id: s, name: S, powerCapW: 1 }\nhalls: [{ id: h, powerCapW: 1, racks: [{ id: r, gpuClass: A100, powerBudgetW: 1 }] }]',
      /gpuClass/,
    ],
    ['fractional watts', 'site: { id: s, name: S, powerCapW: 1.5 }', /powerCapW/],
    [
      'both gpus and gpuCount',
      'site: { id: s, name: S, powerCapW: 1 }\nhalls: [{ id: h, powerCapW: 1, racks: [{ id: r, gpuClass: H100, powerBudgetW: 1, nodes: [{ id: n, nominalPowerW: 1, gpuCount: 8, gpus: [a] }] }] }]',
      /either gpus or gpuCount/,
    ],
    [
      'nodeCount without nodePowerW',
      'site: { id: s, name: S, powerCapW: 1 }\nhalls: [{ id: h, powerCapW: 1, racks: [{ id: r, gpuClass: H100, powerBudgetW: 1, nodeCount: 2 }] }]',
      /nodePowerW/,
    ],
    [
      'a GPU id in two nodes',
      'site: { id: s, name: S, powerCapW: 1 }\nhalls: [{ id: h, powerCapW: 1, racks: [{ id: r, gpuClass: H100, powerBudgetW: 1, nodes: [{ id: n1, nominalPowerW: 1, gpus: [a] }, { id: n2, nominalPowerW: 1, gpus: [a] }] }] }]',
      /GPU a appears twice/,
    ],
  ])('refuses %s', (_name, text, message) => {
    const parsed = parseFleetDescription(text, 'yaml');
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.errors.join('; ')).toMatch(message);
  });
});

describe('Colossus-1 generator', () => {
  const full = generateColossusFleet({ seed: 42 });

  it('generates about 220,000 GPUs of the three classes under the 300 MW site cap', () => {
    expect(countGpus(full)).toBe(219_904);
    const byClass = new Map<string, number>();
    let drawW = 0;
    for (const rack of full.racks) {
      byClass.set(
        rack.gpuClass,
        (byClass.get(rack.gpuClass) ?? 0) + rack.nodes.length * rack.nodes[0].gpus.length,
      );
      drawW += rack.nodes.reduce((sum, n) => sum + n.nominalPowerW, 0);
    }
    expect(Object.fromEntries(byClass)).toEqual({ H100: 100_000, H200: 49_920, GB200: 69_984 });
    expect(drawW).toBeLessThanOrEqual(COLOSSUS_SITE_CAP_W);
    expect(drawW).toBeGreaterThan(0.95 * COLOSSUS_SITE_CAP_W);
  });

  it('is deterministic for a seed and varies with it', () => {
    expect(JSON.stringify(generateColossusFleet({ seed: 42, scale: 0.01 }))).toBe(
      JSON.stringify(generateColossusFleet({ seed: 42, scale: 0.01 })),
    );
    expect(JSON.stringify(generateColossusFleet({ seed: 7, scale: 0.01 }))).not.toBe(
      JSON.stringify(generateColossusFleet({ seed: 42, scale: 0.01 })),
    );
  });

  it('imports the full fleet without a rejection, and a re-import adds nothing', () => {
    const fleet = emptyFleet();
    const first = importInto(fleet, full);
    expect(first.rejections).toEqual([]);
    expect(fleet.gpus.size).toBe(219_904);
    expect(fleet.sites.get('col1')!.drawW).toBeLessThanOrEqual(COLOSSUS_SITE_CAP_W);
    expect(importInto(fleet, full)).toEqual({ events: 0, rejections: [] });
  });

  it('a scaled-down fleet keeps every hall and class', () => {
    const small = generateColossusFleet({ seed: 1, scale: 0.001 });
    expect(small.halls).toHaveLength(11);
    expect(new Set(small.racks.map((r) => r.gpuClass))).toEqual(new Set(['H100', 'H200', 'GB200']));
  });
});

describe('toFleetFile', () => {
  it('round-trips a generated fleet through its JSON file form', () => {
    const fleet = generateColossusFleet({ seed: 3, scale: 0.002 });
    const parsed = parseFleetDescription(JSON.stringify(toFleetFile(fleet)), 'json');
    expect(parsed.ok && parsed.fleet).toEqual(fleet);
  });

  it('with counted GPUs (what the Colossus scenario imports) gives the same GPU ids', () => {
    const fleet = generateColossusFleet({ seed: 3, scale: 0.002 });
    const parsed = parseFleetDescription(JSON.stringify(toFleetFile(fleet, { gpus: 'counted' })), 'json');
    const ids = (f: typeof fleet) =>
      f.racks.flatMap((r) => r.nodes.flatMap((n) => n.gpus.map((g) => g.gpuId)));
    expect(parsed.ok && ids(parsed.fleet)).toEqual(ids(fleet));
  });
});
