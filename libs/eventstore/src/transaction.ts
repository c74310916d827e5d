import { DataSource, EntityManager } from 'typeorm';

export interface TransactionLimits {
  /** A writer idle inside its transaction longer than this is ended by Postgres (bounded stall). */
  idleInTransactionTimeoutMs?: number;
  /** How long a writer waits for the log head lock before giving up. */
  lockTimeoutMs?: number;
}

export const DEFAULT_TRANSACTION_LIMITS: Required<TransactionLimits> = {
  idleInTransactionTimeoutMs: 10_000,
  lockTimeoutMs: 15_000,
};

/** Runs `work` in one READ COMMITTED transaction with the writer limits of DESIGN.md section 4. */
export async function runInTransaction<T>(
  dataSource: DataSource,
  work: (tx: EntityManager) => Promise<T>,
  limits: TransactionLimits = {},
): Promise<T> {
  const { idleInTransactionTimeoutMs, lockTimeoutMs } = { ...DEFAULT_TRANSACTION_LIMITS, ...limits };
  return dataSource.transaction(async (tx) => {
    await tx.query(
      `SELECT set_config('idle_in_transaction_session_timeout', $1, true), set_config('lock_timeout', $2, true)`,
      [`${idleInTransactionTimeoutMs}ms`, `${lockTimeoutMs}ms`],
    );
    return work(tx);
  });
}
