import { Injectable } from '@nestjs/common';
import { runInTransaction } from '@fleetledger/eventstore';
import { DataSource } from 'typeorm';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** `samples_YYYYMMDD`: the partition of metering.samples holding one UTC day. */
export function samplePartitionName(day: string): string {
  if (!DAY.test(day)) throw new Error(`not a day: ${day}`);
  return `samples_${day.replaceAll('-', '')}`;
}

/**
 * Creates the day partitions of metering.samples on demand, before the ingestion transaction that
 * needs them (DDL in its own short transaction, serialized by an advisory lock, idempotent).
 * Remembers the days it has seen, so the per-batch cost is a Set lookup.
 */
@Injectable()
export class SamplePartitions {
  private readonly known = new Set<string>();

  constructor(private readonly dataSource: DataSource) {}

  async ensure(days: Iterable<string>): Promise<void> {
    const missing = [...new Set(days)].filter((day) => !this.known.has(day)).sort();
    if (missing.length === 0) return;
    await runInTransaction(this.dataSource, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('metering.samples partitions'))`);
      const [retention] = await tx.query<{ archived_before: string | null }[]>(
        `SELECT archived_before::text AS archived_before FROM metering.sample_retention WHERE id = 1`,
      );
      for (const day of missing) {
        // An archived day keeps its detached table under this name: never recreate it (its samples are refused).
        if (retention.archived_before !== null && day < retention.archived_before) continue;
        await tx.query(
          `CREATE TABLE IF NOT EXISTS metering.${samplePartitionName(day)} PARTITION OF metering.samples
             FOR VALUES FROM ('${day}') TO ('${day}'::date + 1)`,
        );
      }
    });
    for (const day of missing) this.known.add(day);
  }

  /** Forgets days before the archive horizon (they are refused before reaching storage). */
  forgetBefore(day: string): void {
    for (const known of this.known) if (known < day) this.known.delete(known);
  }

  /** Forgets everything (the database was rebuilt, or partitions were detached). */
  reset(): void {
    this.known.clear();
  }
}
