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

/**
 * The limits each pooled connection already runs with (session settings), so a transaction on it does not
 * spend a round trip setting them again. Keyed by node-postgres' client object (TypeORM keeps it on the query
 * runner as `databaseConnection`).
 */
const sessionLimits = new WeakMap<object, string>();

/** Runs `work` in one READ COMMITTED transaction with the writer limits of DESIGN.md section 4. */
export async function runInTransaction<T>(
  dataSource: DataSource,
  work: (tx: EntityManager) => Promise<T>,
  limits: TransactionLimits = {},
): Promise<T> {
  const { idleInTransactionTimeoutMs, lockTimeoutMs } = { ...DEFAULT_TRANSACTION_LIMITS, ...limits };
  const wanted = `${idleInTransactionTimeoutMs}ms/${lockTimeoutMs}ms`;
  let configured: object | undefined;
  const result = await dataSource.transaction(async (tx) => {
    const client = (tx.queryRunner as unknown as { databaseConnection?: object } | undefined)
      ?.databaseConnection;
    if (!client || sessionLimits.get(client) !== wanted) {
      // Session-wide (not LOCAL): the connection keeps them for its next transactions, which then skip this
      // round trip. Set inside the transaction, they revert if it rolls back, so they are remembered only
      // once it has committed.
      await tx.query(
        `SELECT set_config('idle_in_transaction_session_timeout', $1, false), set_config('lock_timeout', $2, false)`,
        [`${idleInTransactionTimeoutMs}ms`, `${lockTimeoutMs}ms`],
      );
      configured = client;
    }
    return work(tx);
  });
  if (configured) sessionLimits.set(configured, wanted);
  return result;
}
