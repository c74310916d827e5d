import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { DAY_MS } from '../domain/quantities';
import { samplePartitionName } from '../ingestion/sample-partitions';
import { meteringErrors } from '../metering-errors';
import { ident, runInTransaction } from '@fleetledger/eventstore';
import { METERING_SCHEMA } from '../metering.options';

const S = ident(METERING_SCHEMA);

export interface ArchivedDay {
  day: string;
  /** The detached table, still in the metering schema: the operator dumps it, then drops it. */
  table: string;
  samples: number;
  unattributed: number;
}

export interface ArchiveResult {
  archivedBefore: string;
  archived: ArchivedDay[];
}

/**
 * Bounds sample storage: detaches the day partitions of metering.samples before a day, and moves
 * the archive horizon there. From then on a sample for an archived day is refused
 * (`beyond-retention`), so nothing can be counted twice; the usage it fed is already in published
 * records. Only days whose windows are all closed and clean may be archived.
 */
@Injectable()
export class SampleArchive {
  private readonly logger = new Logger(SampleArchive.name);

  constructor(private readonly dataSource: DataSource) {}

  async archiveBefore(day: string, nowMs: number): Promise<ArchiveResult> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`)))
      throw meteringErrors.error({ reason: 'invalid-day', detail: `not a day: ${day}` });
    const beforeMs = Date.parse(`${day}T00:00:00Z`);
    return runInTransaction(this.dataSource, async (tx) => {
      // Exclusive: no ingestion batch, placement change or close runs while partitions move.
      await tx.query(`SELECT version FROM ${S}.attribution_head WHERE id = 1 FOR UPDATE`);
      const [state] = await tx.query<
        { closed_before: Date | null; archived_before: string | null; dirty: number }[]
      >(
        `SELECT c.closed_before, r.archived_before::text AS archived_before,
                (SELECT count(*)::int FROM ${S}.usage_windows WHERE hour_start < $1 AND (status = 'open' OR dirty)) AS dirty
           FROM ${S}.close_progress c, ${S}.sample_retention r`,
        [new Date(beforeMs).toISOString()],
      );
      if (!state.closed_before || state.closed_before.getTime() < beforeMs || state.dirty > 0)
        throw meteringErrors.error(
          {
            reason: 'archive-before-close',
            detail: `days before ${day} still have windows to close or correct: close them first`,
          },
          { closedBefore: state.closed_before?.toISOString() ?? null, windowsPending: state.dirty },
        );
      // Late samples keep arriving for a while after close: keep at least two days.
      if (beforeMs > nowMs - 2 * DAY_MS)
        throw meteringErrors.error({
          reason: 'archive-too-recent',
          detail: `keep at least the last two days attached (asked to archive before ${day})`,
        });
      const partitions = await tx.query<{ table_name: string }[]>(
        `SELECT c.relname AS table_name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = '${S}.samples'::regclass ORDER BY c.relname`,
      );
      const archived: ArchivedDay[] = [];
      for (const { table_name } of partitions) {
        const match = /^samples_(\d{4})(\d{2})(\d{2})$/.exec(table_name);
        if (!match) continue;
        const partitionDay = `${match[1]}-${match[2]}-${match[3]}`;
        if (partitionDay >= day) continue;
        const table = samplePartitionName(partitionDay);
        const [counts] = await tx.query<{ samples: number; unattributed: number }[]>(
          `SELECT count(*)::int AS samples, count(*) FILTER (WHERE window_id IS NULL)::int AS unattributed
             FROM ${S}.${table}`,
        );
        await tx.query(`ALTER TABLE ${S}.samples DETACH PARTITION ${S}.${table}`);
        await tx.query(
          `INSERT INTO ${S}.sample_archive (sample_day, table_name, samples, unattributed, archived_at)
           VALUES ($1, $2, $3, $4, $5)`,
          [partitionDay, table, counts.samples, counts.unattributed, new Date(nowMs).toISOString()],
        );
        archived.push({ day: partitionDay, table, ...counts });
      }
      const horizon = state.archived_before && state.archived_before > day ? state.archived_before : day;
      await tx.query(`UPDATE ${S}.sample_retention SET archived_before = $1 WHERE id = 1`, [horizon]);
      this.logger.log(`archived ${archived.length} sample partitions before ${horizon}`);
      return { archivedBefore: horizon, archived };
    });
  }
}
