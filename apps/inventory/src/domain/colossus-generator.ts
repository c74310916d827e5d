import { inventory, mulberry32 } from '@fleetledger/contracts';
import { NodeToCommission } from './commands';
import { FleetDescription } from './fleet-description';

/**
 * A Colossus-1-shaped fleet: one 300 MW site, eleven halls, ~220,000 GPUs.
 *
 * | class | halls | racks/hall | rack                        | GPUs    | nominal draw |
 * | H100  | 5     | 625        | 4 HGX nodes of 8, 10.2 kW   | 100,000 | 127.5 MW     |
 * | H200  | 2     | 780        | 4 HGX nodes of 8, 10.2 kW   |  49,920 |  63.6 MW     |
 * | GB200 | 4     | 243        | NVL72: 18 trays of 4, 5.9 kW |  69,984 | 103.2 MW     |
 *
 * About 294 MW nominal under the 300 MW cap. The seed decides which hall number gets which class and
 * lowers each node's nominal draw by up to 200 W (tolerances of real machines), nothing else, so
 * every seed gives the same counts and stays within every budget. `scale` keeps that shape with
 * fewer racks per hall (at least one), for tests.
 */
export interface GeneratorOptions {
  seed: number;
  /** Fraction of racks per hall to generate; 1 = the full fleet. */
  scale?: number;
  siteId?: string;
}

interface HallTemplate {
  gpuClass: inventory.GpuClass;
  halls: number;
  racksPerHall: number;
  nodesPerRack: number;
  nodePowerW: number;
  rackBudgetW: number;
  hallCapW: number;
}

export const COLOSSUS_SITE_CAP_W = 300_000_000;

const templates: HallTemplate[] = [
  {
    gpuClass: 'H100',
    halls: 5,
    racksPerHall: 625,
    nodesPerRack: 4,
    nodePowerW: 10_200,
    rackBudgetW: 45_000,
    hallCapW: 27_000_000,
  },
  {
    gpuClass: 'H200',
    halls: 2,
    racksPerHall: 780,
    nodesPerRack: 4,
    nodePowerW: 10_200,
    rackBudgetW: 45_000,
    hallCapW: 33_000_000,
  },
  {
    gpuClass: 'GB200',
    halls: 4,
    racksPerHall: 243,
    nodesPerRack: 18,
    nodePowerW: 5_900,
    rackBudgetW: 120_000,
    hallCapW: 27_000_000,
  },
];

export function generateColossusFleet(options: GeneratorOptions): FleetDescription {
  const random = mulberry32(options.seed);
  const scale = options.scale ?? 1;
  const siteId = options.siteId ?? 'col1';
  const pad = (n: number, width: number) => String(n).padStart(width, '0');

  const hallClasses = shuffle(
    templates.flatMap((t) => Array.from({ length: t.halls }, () => t)),
    random,
  );
  const fleet: FleetDescription = {
    site: { siteId, name: 'Colossus 1', powerCapW: COLOSSUS_SITE_CAP_W },
    halls: [],
    racks: [],
  };
  hallClasses.forEach((t, h) => {
    const hallId = `${siteId}-h${pad(h + 1, 2)}`;
    fleet.halls.push({ hallId, name: `Hall ${h + 1} (${t.gpuClass})`, powerCapW: t.hallCapW });
    const racks = Math.max(1, Math.round(t.racksPerHall * scale));
    const perNode = inventory.gpuClassFacts[t.gpuClass].gpusPerNode;
    for (let r = 1; r <= racks; r++) {
      const rackId = `${hallId}-r${pad(r, 3)}`;
      const nodes: NodeToCommission[] = [];
      for (let n = 1; n <= t.nodesPerRack; n++) {
        const nodeId = `${rackId}-n${pad(n, 2)}`;
        nodes.push({
          nodeId,
          nominalPowerW: t.nodePowerW - Math.floor(random() * 201),
          gpus: Array.from({ length: perNode }, (_, g) => ({ gpuId: `${nodeId}-g${g}` })),
        });
      }
      fleet.racks.push({ rackId, hallId, gpuClass: t.gpuClass, powerBudgetW: t.rackBudgetW, nodes });
    }
  });
  return fleet;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
