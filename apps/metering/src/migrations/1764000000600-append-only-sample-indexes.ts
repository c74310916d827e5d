import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sample indexes whose inserts stay at the right edge, so a day partition of hundreds of millions of
 * rows costs the same per sample as an empty one.
 *
 * The per-GPU index `(hashtext(gpu_id), attributed_at)` put every sample on a random leaf page: once
 * a day's index outgrew shared buffers, each batch evicted and re-read thousands of pages (and wrote
 * a full-page image for each after every checkpoint). Re-attribution (a placement learned or changed
 * late) is its only reader, and it looks for the samples of some GPUs over a time range. Every such
 * sample is either unattributed, or in a window of the lease of a placement on one of those GPUs
 * (that is how it was attributed), so two time-ordered indexes find the same rows:
 * - samples_window_time_idx (window_id, attributed_at) for attributed samples: a few hundred open
 *   windows, each receiving samples in about time order, so inserts land at the end of each window's
 *   range (also what `audit explain` reads: the samples of one usage record);
 * - the existing samples_unattributed_idx (attributed_at) WHERE window_id IS NULL for the others.
 * Re-attribution then reads all samples of the range in those two sets and keeps its GPUs' (cheap
 * for changes learned seconds late; see the metering README's known limits).
 * On a large existing table this builds the window index (run it in a maintenance window).
 */
export class AppendOnlySampleIndexes1764000000600 implements MigrationInterface {
  name = 'AppendOnlySampleIndexes1764000000600';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX metering.samples_gpu_hash_time_idx`);
    await q.query(
      `CREATE INDEX samples_window_time_idx ON metering.samples (window_id, attributed_at) WHERE window_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX metering.samples_window_time_idx`);
    await q.query(
      `CREATE INDEX samples_gpu_hash_time_idx ON metering.samples (hashtext(gpu_id), attributed_at)`,
    );
  }
}
