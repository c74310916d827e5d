import { MigrationInterface, QueryRunner } from 'typeorm';

/** The history rows of the events already in a schema's log, by the projection's rules (`historyRow`); tested against it. */
export const workloadHistoryFromLog = (schema: string) => `SELECT e.global_position, e.payload->>'workloadId',
              lower(substr(e.type, length('allocation.Workload') + 1)),
              coalesce(e.payload->>'submittedAt', e.payload->>'placedAt', e.payload->>'queuedAt', e.payload->>'rejectedAt',
                       e.payload->>'releasedAt', e.payload->>'preemptedAt', e.payload->>'evictedAt', e.payload->>'withdrawnAt')::timestamptz,
              e.payload->>'placementId',
              e.payload->>'gpuClass',
              CASE WHEN e.payload ? 'gpuIds' THEN jsonb_array_length(e.payload->'gpuIds') ELSE (e.payload->>'gpuCount')::int END,
              CASE e.type
                WHEN 'allocation.WorkloadPreempted' THEN e.payload->>'cause'
                WHEN 'allocation.WorkloadEvicted' THEN e.payload->>'cause'
                WHEN 'allocation.WorkloadQueued' THEN e.payload->>'reason'
                WHEN 'allocation.WorkloadRejected' THEN e.payload->>'reason'
                END,
              CASE e.type
                WHEN 'allocation.WorkloadPlaced' THEN e.payload->'routing'->>'reason'
                WHEN 'allocation.WorkloadPreempted' THEN 'preempted by ' || (e.payload->>'preemptedBy')
                WHEN 'allocation.WorkloadEvicted' THEN nullif('GPUs ' || array_to_string(ARRAY(SELECT jsonb_array_elements_text(e.payload->'affectedGpuIds')), ', '), 'GPUs ')
                WHEN 'allocation.WorkloadWithdrawn' THEN e.payload->>'reason'
                ELSE e.payload->>'detail' END
         FROM ${schema}.events e
        WHERE e.stream_id = 'placement-ledger'`;

/**
 * Issue #15 (8): a workload's history, one row per placement-ledger event (submitted, placed, queued,
 * rejected, released, preempted, evicted, withdrawn) with its time and why, for `GET /workloads/:id`.
 * Filled by the placements projection from now on; rows of the events already in the log are
 * filled here with the same rules.
 */
export class WorkloadHistory1766000000200 implements MigrationInterface {
  name = 'WorkloadHistory1766000000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE allocation.workload_history (
      global_position bigint PRIMARY KEY,
      workload_id text NOT NULL,
      kind text NOT NULL,
      at timestamptz NOT NULL,
      placement_id text,
      gpu_class text,
      gpu_count integer,
      reason text,
      detail text
    )`);
    await q.query(
      `CREATE INDEX workload_history_workload_idx ON allocation.workload_history (workload_id, global_position)`,
    );
    // What the projection writes for the events already in the log (same columns, same rules).
    // What the projection writes for the events already in the log (same columns, same rules).
    await q.query(`INSERT INTO allocation.workload_history ${workloadHistoryFromLog('allocation')}`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE allocation.workload_history`);
  }
}
