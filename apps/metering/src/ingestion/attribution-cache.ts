import { Injectable } from '@nestjs/common';
import { Queryable } from '@fleetledger/eventstore';
import { AttributionIndex } from '../domain/attribution';
import { intervalFromRow, PLACEMENT_COLUMNS, PlacementRow } from './placement-rows';

/** What one ingestion transaction sees of attribution and storage, under `attribution_head` FOR SHARE. */
export interface AttributionSnapshot {
  /** Holds every interval that ends after `completeFromMs`: exact for instants >= it. */
  index: AttributionIndex;
  /**
   * The window closer's watermark (every window of an hour before it is closed), or -Infinity.
   * Intervals that ended before it are pruned from memory; a sample attributed before it is a late
   * sample, and its holder is looked up in the database (`olderIndex`).
   */
  completeFromMs: number;
  /** Days before this (`YYYY-MM-DD`) are archived: their samples are refused. */
  archivedBefore: string | null;
}

/**
 * The ingestion path's in-memory copy of the attribution intervals. Every ingestion transaction
 * first takes `attribution_head` FOR SHARE: a placement change holds it exclusively while it
 * re-attributes pending samples, so a batch either sees the change or is seen by it, never neither.
 * When the head's version moved, only the placements changed since are reloaded.
 *
 * Memory is bounded by the placements that are running or ended after the closer's watermark:
 * ended placements are pruned as the watermark passes them (late samples for them are attributed
 * from the database instead, with the same rule).
 */
@Injectable()
export class AttributionCache {
  private index = new AttributionIndex();
  private version = 0;
  private completeFromMs = Number.NEGATIVE_INFINITY;

  async sync(tx: Queryable): Promise<AttributionSnapshot> {
    const [head] = await tx.query<
      { version: string; closed_before: Date | null; archived_before: string | null }[]
    >(
      `SELECT h.version, c.closed_before, r.archived_before::text AS archived_before
         FROM metering.attribution_head h, metering.close_progress c, metering.sample_retention r
        WHERE h.id = 1 FOR SHARE OF h`,
    );
    const current = Number(head.version);
    const watermark = head.closed_before ? head.closed_before.getTime() : Number.NEGATIVE_INFINITY;
    if (current < this.version || watermark < this.completeFromMs) {
      // The database was rebuilt under us (tests, restore): start over.
      this.index = new AttributionIndex();
      this.version = 0;
      this.completeFromMs = Number.NEGATIVE_INFINITY;
    }
    if (watermark > this.completeFromMs) {
      this.completeFromMs = watermark;
      this.index.prune(watermark);
    }
    if (current > this.version) {
      const rows = await tx.query<PlacementRow[]>(
        `SELECT ${PLACEMENT_COLUMNS} FROM metering.placements WHERE version > $1 ORDER BY version`,
        [this.version],
      );
      for (const row of rows) {
        const interval = intervalFromRow(row);
        if (AttributionIndex.relevantAfter(interval, this.completeFromMs)) this.index.put(interval);
        else this.index.remove(interval.placementId);
      }
      this.version = current;
    }
    return { index: this.index, completeFromMs: this.completeFromMs, archivedBefore: head.archived_before };
  }

  /** Every interval of these GPUs, from the database (for samples older than the in-memory horizon). */
  async olderIndex(tx: Queryable, gpuIds: readonly string[]): Promise<AttributionIndex> {
    const index = new AttributionIndex();
    if (gpuIds.length === 0) return index;
    const rows = await tx.query<PlacementRow[]>(
      `SELECT ${PLACEMENT_COLUMNS} FROM metering.placements
        WHERE placement_id IN (SELECT placement_id FROM metering.placement_gpus WHERE gpu_id = ANY($1::text[]))`,
      [gpuIds],
    );
    for (const row of rows) index.put(intervalFromRow(row));
    return index;
  }

  /** For tests and metrics: placements and GPUs held in memory. */
  get size(): { placements: number; gpus: number } {
    return { placements: this.index.size, gpus: this.index.gpuCount };
  }
}
