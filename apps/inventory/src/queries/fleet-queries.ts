import { inventory } from '@fleetledger/contracts';
import { ident, Queryable } from '@fleetledger/eventstore';

export type HealthCounts = Record<inventory.GpuHealth, number> & { total: number };

export interface ClassCapacity extends HealthCounts {
  gpuClass: inventory.GpuClass;
  /** GPUs allocation may place new work on: healthy ones (inventory does not know what is allocated). */
  available: number;
}

export interface PowerHeadroom {
  id: string;
  budgetW: number;
  drawW: number;
  headroomW: number;
}

const healthColumns = inventory.gpuHealthStates
  .map((h) => `coalesce(sum(gpus) FILTER (WHERE health = '${h}'), 0)::bigint AS "${h}"`)
  .join(', ');

/** Read side of the fleet projection: counts come from the per-class and per-rack count tables, never from a GPU scan. */
export class FleetQueries {
  private readonly s: string;

  constructor(
    private readonly db: Queryable,
    schema: string,
  ) {
    this.s = ident(schema);
  }

  async capacityByClass(): Promise<ClassCapacity[]> {
    const rows = await this.db.query<Record<string, string>[]>(
      `SELECT gpu_class, ${healthColumns} FROM ${this.s}.class_health_counts GROUP BY gpu_class ORDER BY gpu_class`,
    );
    return rows.map((row: Record<string, string>) => {
      const counts = toCounts(row);
      return { gpuClass: row.gpu_class as inventory.GpuClass, available: counts.healthy, ...counts };
    });
  }

  async fleetByHall(): Promise<(HealthCounts & { hallId: string; gpuClass: string })[]> {
    const rows = await this.db.query<Record<string, string>[]>(
      `SELECT hall_id, gpu_class, ${healthColumns} FROM ${this.s}.rack_health_counts GROUP BY hall_id, gpu_class ORDER BY hall_id, gpu_class`,
    );
    return rows.map((row: Record<string, string>) => ({
      hallId: row.hall_id,
      gpuClass: row.gpu_class,
      ...toCounts(row),
    }));
  }

  async racksOfHall(hallId: string): Promise<(HealthCounts & { rackId: string; gpuClass: string })[]> {
    const rows = await this.db.query<Record<string, string>[]>(
      `SELECT rack_id, gpu_class, ${healthColumns} FROM ${this.s}.rack_health_counts WHERE hall_id = $1
        GROUP BY rack_id, gpu_class ORDER BY rack_id`,
      [hallId],
    );
    return rows.map((row: Record<string, string>) => ({
      rackId: row.rack_id,
      gpuClass: row.gpu_class,
      ...toCounts(row),
    }));
  }

  async siteHeadroom(): Promise<PowerHeadroom[]> {
    return headroom(
      await this.db.query<HeadroomRow[]>(
        `SELECT site_id AS id, power_cap_w AS budget, draw_w AS draw FROM ${this.s}.sites ORDER BY site_id`,
      ),
    );
  }

  async hallHeadroom(): Promise<PowerHeadroom[]> {
    return headroom(
      await this.db.query<HeadroomRow[]>(
        `SELECT hall_id AS id, power_cap_w AS budget, draw_w AS draw FROM ${this.s}.halls ORDER BY hall_id`,
      ),
    );
  }

  async rackHeadroom(hallId: string): Promise<PowerHeadroom[]> {
    return headroom(
      await this.db.query<HeadroomRow[]>(
        `SELECT rack_id AS id, power_budget_w AS budget, draw_w AS draw FROM ${this.s}.racks WHERE hall_id = $1 ORDER BY rack_id`,
        [hallId],
      ),
    );
  }

  async gpu(gpuId: string): Promise<Record<string, unknown> | undefined> {
    const [row] = await this.db.query<Record<string, unknown>[]>(
      `SELECT gpu_id AS "gpuId", node_id AS "nodeId", rack_id AS "rackId", hall_id AS "hallId", gpu_class AS "gpuClass",
              memory_gb AS "memoryGb", nvlink_domain AS "nvlinkDomain", reported_health AS "reportedHealth", health
         FROM ${this.s}.gpus WHERE gpu_id = $1`,
      [gpuId],
    );
    return row;
  }
}

function toCounts(row: Record<string, string>): HealthCounts {
  const counts = Object.fromEntries(inventory.gpuHealthStates.map((h) => [h, Number(row[h])])) as Record<
    inventory.GpuHealth,
    number
  >;
  return { ...counts, total: inventory.gpuHealthStates.reduce((sum, h) => sum + counts[h], 0) };
}

type HeadroomRow = { id: string; budget: string; draw: string };

function headroom(rows: HeadroomRow[]): PowerHeadroom[] {
  return rows.map((r) => ({
    id: r.id,
    budgetW: Number(r.budget),
    drawW: Number(r.draw),
    headroomW: Number(r.budget) - Number(r.draw),
  }));
}
