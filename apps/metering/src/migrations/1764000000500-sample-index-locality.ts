import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sample indexes that stay cheap as a day partition grows to hundreds of millions of rows.
 *
 * The 10-minute benchmark slowed from ~50,000 to ~26,000 samples/s once the day's indexes outgrew
 * memory: both indexes led with a per-GPU value (`sample_id` is `<gpuId>@<ms>`; `gpu_id`), so
 * every batch dirtied thousands of random leaf pages (random reads, and a full-page image in the WAL
 * for each after every checkpoint).
 *
 * - The dedup key leads with time: PRIMARY KEY (attributed_at, sample_id, sample_day). Samples
 *   arrive in about time order, so inserts land at the right edge of the index. It is the same key
 *   for every redelivery (same sampleId, same sampledAt, so same attribution instant and day).
 * - The per-GPU lookup (re-attribution when a placement changes) keys on a 4-byte hash of the GPU
 *   id instead of the text: the index is about half the size, so much more of it stays cached.
 *   Queries filter on both `hashtext(gpu_id)` and `gpu_id`.
 * On a large existing table this rebuilds both indexes (run it in a maintenance window).
 */
export class SampleIndexLocality1764000000500 implements MigrationInterface {
  name = 'SampleIndexLocality1764000000500';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE metering.samples DROP CONSTRAINT samples_pkey`);
    await q.query(`ALTER TABLE metering.samples ADD PRIMARY KEY (attributed_at, sample_id, sample_day)`);
    await q.query(`DROP INDEX metering.samples_gpu_time_idx`);
    await q.query(
      `CREATE INDEX samples_gpu_hash_time_idx ON metering.samples (hashtext(gpu_id), attributed_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX metering.samples_gpu_hash_time_idx`);
    await q.query(`CREATE INDEX samples_gpu_time_idx ON metering.samples (gpu_id, attributed_at)`);
    await q.query(`ALTER TABLE metering.samples DROP CONSTRAINT samples_pkey`);
    await q.query(`ALTER TABLE metering.samples ADD PRIMARY KEY (sample_id, sample_day)`);
  }
}
