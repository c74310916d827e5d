import { Injectable } from '@nestjs/common';
import { Queryable } from '@fleetledger/eventstore';
import { AttributionIndex } from '../domain/attribution';
import { intervalFromRow, PLACEMENT_COLUMNS, PlacementRow } from './placement-rows';

/**
 * The ingestion path's in-memory copy of the attribution intervals. Every ingestion transaction
 * first takes `attribution_head` FOR SHARE: a placement change holds it exclusively while it
 * re-attributes pending samples, so a batch either sees the change or is seen by it, never neither.
 * When the head's version moved, only the placements changed since are reloaded.
 */
@Injectable()
export class AttributionCache {
  private index = new AttributionIndex();
  private version = 0;

  async sync(tx: Queryable): Promise<AttributionIndex> {
    const [head] = await tx.query<{ version: string }[]>(
      `SELECT version FROM metering.attribution_head WHERE id = 1 FOR SHARE`,
    );
    const current = Number(head.version);
    if (current < this.version) {
      // The database was rebuilt under us (tests, restore): start over.
      this.index = new AttributionIndex();
      this.version = 0;
    }
    if (current > this.version) {
      const rows = await tx.query<PlacementRow[]>(
        `SELECT ${PLACEMENT_COLUMNS} FROM metering.placements WHERE version > $1 ORDER BY version`,
        [this.version],
      );
      for (const row of rows) this.index.put(intervalFromRow(row));
      this.version = current;
    }
    return this.index;
  }
}
