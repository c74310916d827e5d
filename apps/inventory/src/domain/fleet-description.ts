import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { formatZodError, inventory } from '@fleetledger/contracts';
import { InventoryCommand, NodeToCommission } from './commands';

/**
 * A fleet description file (JSON or YAML) that the bulk import turns into commands. Shorthands keep
 * a hand-written file short: a node may give `gpuCount` instead of listing GPU ids (ids become
 * `<nodeId>-g<i>`), and a rack may give `nodeCount` + `nodePowerW` instead of listing nodes (ids
 * become `<rackId>-n01`, `-n02`, ...).
 *
 * ```yaml
 * site: { id: col1, name: Colossus 1, powerCapW: 300000000 }
 * halls:
 *   - id: col1-h01
 *     powerCapW: 27000000
 *     racks:
 *       - { id: col1-h01-r001, gpuClass: H100, powerBudgetW: 45000, nodeCount: 4, nodePowerW: 10200 }
 * ```
 */
const id = inventory.fleetIdSchema;
const watts = inventory.wattsSchema;

const nodeFileSchema = z
  .object({
    id,
    nominalPowerW: watts.positive(),
    gpus: z
      .array(z.union([id, z.object({ id, memoryGb: z.number().int().positive().optional() })]))
      .min(1)
      .optional(),
    gpuCount: z.number().int().positive().optional(),
  })
  .refine((n) => !(n.gpus && n.gpuCount !== undefined), {
    message: 'give either gpus or gpuCount, not both',
  });

const rackFileSchema = z
  .object({
    id,
    gpuClass: inventory.gpuClassSchema,
    powerBudgetW: watts,
    nodes: z.array(nodeFileSchema).optional(),
    nodeCount: z.number().int().nonnegative().optional(),
    nodePowerW: watts.positive().optional(),
  })
  .refine((r) => !(r.nodes && r.nodeCount !== undefined), {
    message: 'give either nodes or nodeCount, not both',
  })
  .refine((r) => r.nodeCount === undefined || r.nodePowerW !== undefined, {
    message: 'nodeCount needs nodePowerW',
  });

const hallFileSchema = z.object({
  id,
  name: z.string().min(1).optional(),
  powerCapW: watts,
  racks: z.array(rackFileSchema).default([]),
});

export const fleetFileSchema = z.object({
  site: z.object({ id, name: z.string().min(1), powerCapW: watts }),
  halls: z.array(hallFileSchema).default([]),
});

export type FleetFile = z.input<typeof fleetFileSchema>;

/** A fleet with every shorthand expanded: what the import and the generator work with. */
export interface FleetDescription {
  site: { siteId: string; name: string; powerCapW: number };
  halls: { hallId: string; name: string; powerCapW: number }[];
  racks: {
    rackId: string;
    hallId: string;
    gpuClass: inventory.GpuClass;
    powerBudgetW: number;
    nodes: NodeToCommission[];
  }[];
}

export type ParsedFleet = { ok: true; fleet: FleetDescription } | { ok: false; errors: string[] };

export function parseFleetDescription(text: string, format: 'json' | 'yaml'): ParsedFleet {
  let raw: unknown;
  try {
    raw = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    return { ok: false, errors: [`not valid ${format}: ${(error as Error).message}`] };
  }
  const parsed = fleetFileSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: [formatZodError(parsed.error)] };
  const fleet = expand(parsed.data);
  const errors = duplicateIds(fleet);
  return errors.length ? { ok: false, errors } : { ok: true, fleet };
}

export function formatOf(fileName: string): 'json' | 'yaml' {
  return /\.ya?ml$/i.test(fileName) ? 'yaml' : 'json';
}

function expand(file: z.infer<typeof fleetFileSchema>): FleetDescription {
  const pad = (n: number) => String(n).padStart(2, '0');
  return {
    site: { siteId: file.site.id, name: file.site.name, powerCapW: file.site.powerCapW },
    halls: file.halls.map((h) => ({ hallId: h.id, name: h.name ?? h.id, powerCapW: h.powerCapW })),
    racks: file.halls.flatMap((h) =>
      h.racks.map((r) => {
        const perNode = inventory.gpuClassFacts[r.gpuClass].gpusPerNode;
        const nodes: NodeToCommission[] = r.nodes
          ? r.nodes.map((n) => ({
              nodeId: n.id,
              nominalPowerW: n.nominalPowerW,
              gpus: n.gpus
                ? n.gpus.map((g) =>
                    typeof g === 'string' ? { gpuId: g } : { gpuId: g.id, memoryGb: g.memoryGb },
                  )
                : gpuIds(n.id, n.gpuCount ?? perNode),
            }))
          : Array.from({ length: r.nodeCount ?? 0 }, (_, i) => {
              const nodeId = `${r.id}-n${pad(i + 1)}`;
              return { nodeId, nominalPowerW: r.nodePowerW!, gpus: gpuIds(nodeId, perNode) };
            });
        return { rackId: r.id, hallId: h.id, gpuClass: r.gpuClass, powerBudgetW: r.powerBudgetW, nodes };
      }),
    ),
  };
}

function gpuIds(nodeId: string, count: number): { gpuId: string }[] {
  return Array.from({ length: count }, (_, i) => ({ gpuId: `${nodeId}-g${i}` }));
}

/** Ids that appear twice in a file: the domain would refuse them one by one; the file is refused whole instead. */
function duplicateIds(fleet: FleetDescription): string[] {
  const errors: string[] = [];
  const seen = new Set<string>();
  const check = (kind: string, value: string) => {
    const key = `${kind}:${value}`;
    if (seen.has(key) && errors.length < 10) errors.push(`${kind} ${value} appears twice`);
    seen.add(key);
  };
  for (const h of fleet.halls) check('hall', h.hallId);
  for (const r of fleet.racks) {
    check('rack', r.rackId);
    for (const n of r.nodes) {
      check('node', n.nodeId);
      for (const g of n.gpus) check('GPU', g.gpuId);
    }
  }
  return errors;
}

/** The commands that import a fleet, in dependency order. Re-running them changes nothing (see `decide`). */
export function importCommands(fleet: FleetDescription): InventoryCommand[] {
  return [
    { kind: 'register-site', body: fleet.site },
    ...fleet.halls.map((h): InventoryCommand => ({
      kind: 'register-hall',
      body: { ...h, siteId: fleet.site.siteId },
    })),
    ...fleet.racks.map((r): InventoryCommand => ({
      kind: 'register-rack',
      body: { rackId: r.rackId, hallId: r.hallId, gpuClass: r.gpuClass, powerBudgetW: r.powerBudgetW },
    })),
    ...fleet.racks
      .filter((r) => r.nodes.length > 0)
      .map((r): InventoryCommand => ({
        kind: 'commission-nodes',
        body: { rackId: r.rackId, nodes: r.nodes },
      })),
  ];
}

export function countGpus(fleet: FleetDescription): number {
  return fleet.racks.reduce((sum, r) => sum + r.nodes.reduce((n, node) => n + node.gpus.length, 0), 0);
}

/** The file form of a fleet (GPU ids listed), for writing a generated fleet to disk or sending it to POST /fleet/import. */
export function toFleetFile(
  fleet: FleetDescription,
  /** `counted`: nodes give `gpuCount` instead of their ids (the generated ids are the same; a much smaller file). */
  { gpus = 'listed' }: { gpus?: 'listed' | 'counted' } = {},
): FleetFile {
  return {
    site: { id: fleet.site.siteId, name: fleet.site.name, powerCapW: fleet.site.powerCapW },
    halls: fleet.halls.map((h) => ({
      id: h.hallId,
      name: h.name,
      powerCapW: h.powerCapW,
      racks: fleet.racks
        .filter((r) => r.hallId === h.hallId)
        .map((r) => ({
          id: r.rackId,
          gpuClass: r.gpuClass,
          powerBudgetW: r.powerBudgetW,
          nodes: r.nodes.map((n) => ({
            id: n.nodeId,
            nominalPowerW: n.nominalPowerW,
            ...(gpus === 'counted'
              ? { gpuCount: n.gpus.length }
              : { gpus: n.gpus.map((g) => (g.memoryGb ? { id: g.gpuId, memoryGb: g.memoryGb } : g.gpuId)) }),
          })),
        })),
    })),
  };
}
