import { Queryable } from '@fleetledger/eventstore';
import { addDigest } from '../domain/quantities';
import { WindowKey } from '../domain/usage-record';

/** A change to a window's running sums; digest is already reduced modulo 2^64 (never negative). */
export interface WindowDelta {
  busyMs: number;
  energyMj: number;
  sampleCount: number;
  digest: bigint;
}

export function addDelta(target: Map<number, WindowDelta>, windowId: number, delta: WindowDelta): void {
  const current = target.get(windowId);
  if (!current) {
    target.set(windowId, { ...delta });
    return;
  }
  current.busyMs += delta.busyMs;
  current.energyMj += delta.energyMj;
  current.sampleCount += delta.sampleCount;
  current.digest = addDigest(current.digest, delta.digest);
}

/** The in-process key of a window (cheap: no date formatting on the per-sample path). */
export function windowCacheKey(key: WindowKey): string {
  return `${key.leaseId}|${key.gpuClass}|${key.hourStartMs}`;
}

/**
 * Window ids by `windowCacheKey`, creating missing windows. Window keys never change, so callers may
 * cache ids for the life of the process (`cache` is read here) — but only ids from COMMITTED
 * transactions: `discovered` collects what this call looked up, for the caller to add to its cache
 * after commit. (A window created by an uncommitted transaction is invisible to others: caching it
 * early let a concurrent batch point samples at a row it could not update.)
 * Inserts go in key order so concurrent writers cannot deadlock on the unique index.
 */
export async function windowIds(
  tx: Queryable,
  keys: Iterable<WindowKey>,
  cache?: ReadonlyMap<string, number>,
  discovered?: Map<string, number>,
): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  const missing = new Map<string, WindowKey>();
  for (const key of keys) {
    const id = windowCacheKey(key);
    const cached = cache?.get(id);
    if (cached !== undefined) result.set(id, cached);
    else missing.set(id, key);
  }
  if (missing.size === 0) return result;
  const sorted = [...missing.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, key]) => key);
  const columns = [
    sorted.map((k) => k.leaseId),
    sorted.map((k) => k.tenantId),
    sorted.map((k) => k.gpuClass),
    sorted.map((k) => new Date(k.hourStartMs).toISOString()),
  ];
  await tx.query(
    `INSERT INTO metering.usage_windows (lease_id, tenant_id, gpu_class, hour_start)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
     ON CONFLICT (lease_id, gpu_class, hour_start) DO NOTHING`,
    columns,
  );
  const rows = await tx.query<
    { window_id: string; lease_id: string; gpu_class: string; hour_start: Date; tenant_id: string }[]
  >(
    `SELECT w.window_id, w.lease_id, w.tenant_id, w.gpu_class, w.hour_start FROM metering.usage_windows w
       JOIN unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(lease_id, gpu_class, hour_start)
         ON w.lease_id = k.lease_id AND w.gpu_class = k.gpu_class AND w.hour_start = k.hour_start`,
    [columns[0], columns[2], columns[3]],
  );
  for (const row of rows) {
    const id = windowCacheKey({
      leaseId: row.lease_id,
      tenantId: row.tenant_id,
      gpuClass: row.gpu_class as WindowKey['gpuClass'],
      hourStartMs: row.hour_start.getTime(),
    });
    result.set(id, Number(row.window_id));
    discovered?.set(id, Number(row.window_id));
  }
  return result;
}

/**
 * Adds deltas to windows, locking them in id order (the order every writer uses). A window that is
 * already closed becomes dirty: the closer publishes a correction for it on its next run.
 */
export async function applyWindowDeltas(tx: Queryable, deltas: Map<number, WindowDelta>): Promise<void> {
  if (deltas.size === 0) return;
  const ids = [...deltas.keys()].sort((a, b) => a - b);
  await tx.query(
    `SELECT window_id FROM metering.usage_windows WHERE window_id = ANY($1::bigint[]) ORDER BY window_id FOR UPDATE`,
    [ids],
  );
  const [updated] = await tx.query<{ n: number }[]>(
    `WITH updated AS (UPDATE metering.usage_windows w SET
        busy_ms = w.busy_ms + v.busy_ms,
        energy_mj = w.energy_mj + v.energy_mj,
        sample_count = w.sample_count + v.sample_count,
        digest = mod(w.digest + v.digest, 18446744073709551616),
        dirty = w.dirty OR w.status = 'closed'
       FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::numeric[]) AS v(window_id, busy_ms, energy_mj, sample_count, digest)
      WHERE w.window_id = v.window_id RETURNING 1)
     SELECT count(*)::int AS n FROM updated`,
    [
      ids,
      ids.map((id) => deltas.get(id)!.busyMs),
      ids.map((id) => deltas.get(id)!.energyMj),
      ids.map((id) => deltas.get(id)!.sampleCount),
      ids.map((id) => deltas.get(id)!.digest.toString()),
    ],
  );
  // Every counted sample must land in a window: a missing one fails the batch (retried), never drops counts.
  if (updated.n !== ids.length)
    throw new Error(`usage window update matched ${updated.n} of ${ids.length} windows`);
}
