/**
 * The small fleet of the end-to-end flow, as a fleet file for POST /fleet/import (rack shorthand:
 * `nodeCount` + `nodePowerW`, so GPU ids are `<rackId>-nNN-gG`):
 *
 *   hall e2e1-h01: two H100 racks    (4 HGX nodes x 8)  =  64 GPUs
 *   hall e2e1-h02: one H200 rack     (4 HGX nodes x 8)  =  32 GPUs
 *   hall e2e1-h03: one GB200 NVL72   (18 trays x 4)     =  72 GPUs, one NVLink domain
 */
export const SITE_ID = 'e2e1';

export const flowFleet = {
  site: { id: SITE_ID, name: 'End-to-end site', powerCapW: 10_000_000 },
  halls: [
    {
      id: `${SITE_ID}-h01`,
      name: 'H100 hall',
      powerCapW: 1_000_000,
      racks: [1, 2].map((r) => ({
        id: `${SITE_ID}-h01-r00${r}`,
        gpuClass: 'H100' as const,
        powerBudgetW: 45_000,
        nodeCount: 4,
        nodePowerW: 10_200,
      })),
    },
    {
      id: `${SITE_ID}-h02`,
      name: 'H200 hall',
      powerCapW: 1_000_000,
      racks: [
        {
          id: `${SITE_ID}-h02-r001`,
          gpuClass: 'H200' as const,
          powerBudgetW: 45_000,
          nodeCount: 4,
          nodePowerW: 10_200,
        },
      ],
    },
    {
      id: `${SITE_ID}-h03`,
      name: 'GB200 hall',
      powerCapW: 1_000_000,
      racks: [
        {
          id: `${SITE_ID}-h03-r001`,
          gpuClass: 'GB200' as const,
          powerBudgetW: 120_000,
          nodeCount: 18,
          nodePowerW: 5_900,
        },
      ],
    },
  ],
};

export const FLEET_GPUS = { H100: 64, H200: 32, GB200: 72 } as const;

/** The node a GPU id belongs to (`...-n03-g5` -> `...-n03`). */
export function nodeOfGpu(gpuId: string): string {
  return gpuId.replace(/-g\d+$/, '');
}
