import { allocation } from '@fleetledger/contracts';
import { effectiveEnd, leaseEnded, Lease, leaseInForce } from './lease';
import { quotaOf } from './quota';
import { AllocationState, SubmittedWorkload } from './state';

type GpuClass = allocation.GpuClass;

/** Which lease of the tenant a request goes under, and whether the tenant's quota admits it. */

/** The tenant's lease to place a class under at `at`: the named one, else exclusive before shared, then by id. */
export function leaseFor(
  state: AllocationState,
  request: SubmittedWorkload,
  gpuClass: GpuClass,
  at: string,
): Lease | null {
  const usable = (lease: Lease) =>
    lease.tenantId === request.tenantId &&
    leaseInForce(lease, at) &&
    (lease.committedGpus[gpuClass] ?? 0) > 0;
  if (request.leaseId) {
    const lease = state.leases.get(request.leaseId);
    return lease && usable(lease) ? lease : null;
  }
  const leases = [...state.leases.values()].filter(usable);
  leases.sort((a, b) =>
    a.exclusivity === b.exclusivity
      ? a.leaseId.localeCompare(b.leaseId)
      : a.exclusivity === 'exclusive'
        ? -1
        : 1,
  );
  return leases[0] ?? null;
}

export type QuotaCheck = { ok: true; borrowed: boolean } | { ok: false; never: boolean; detail: string };

/** GPUs a what-if preemption hands back: to the request's quota scope, and to its lease's idle count. */
export interface QuotaRelief {
  scopeGpus: number;
  leaseGpus: number;
}
const NO_RELIEF: QuotaRelief = { scopeGpus: 0, leaseGpus: 0 };

/** Nominal first; beyond it up to the borrowing limit while the lease has idle committed GPUs. */
export function checkQuota(
  state: AllocationState,
  request: SubmittedWorkload,
  gpuClass: GpuClass,
  lease: Lease,
  relief: QuotaRelief = NO_RELIEF,
): QuotaCheck {
  const quota = quotaOf(state.quotas.get(request.tenantId), gpuClass, request.workloadClass);
  const used = state.usageOf(request.tenantId, gpuClass, request.workloadClass) - relief.scopeGpus;
  const n = request.gpuCount;
  const key = `${gpuClass}/${request.workloadClass}`;
  if (used + n <= quota.nominal) return { ok: true, borrowed: false };
  if (n > quota.nominal + quota.borrowLimit) {
    return {
      ok: false,
      never: true,
      detail: `${n} ${key} GPUs exceed the quota (${quota.nominal} nominal + ${quota.borrowLimit} borrowable)`,
    };
  }
  if (used + n > quota.nominal + quota.borrowLimit) {
    return {
      ok: false,
      never: false,
      detail: `${used} ${key} GPUs in use + ${n} exceed ${quota.nominal} nominal + ${quota.borrowLimit} borrowable`,
    };
  }
  const idle =
    (lease.committedGpus[gpuClass] ?? 0) - (state.leaseUsageOf(lease.leaseId, gpuClass) - relief.leaseGpus);
  if (n > idle)
    return {
      ok: false,
      never: false,
      detail: `borrowing ${n} ${key} GPUs needs idle capacity of lease ${lease.leaseId}, ${Math.max(idle, 0)} idle`,
    };
  return { ok: true, borrowed: true };
}

/** The tenant's most recently ended lease for one of the routed classes (or the named lease), if it ended by `at`. */
export function endedLeaseFor(
  state: AllocationState,
  request: SubmittedWorkload,
  routes: readonly GpuClass[],
  at: string,
): Lease | null {
  let latest: Lease | null = null;
  for (const lease of state.leases.values()) {
    if (lease.tenantId !== request.tenantId) continue;
    if (request.leaseId && lease.leaseId !== request.leaseId) continue;
    // Terminated is no-lease; signed, active or expired with the term over is lease-expired, before and after the sweep.
    if (lease.status === 'terminated') continue;
    if (!routes.some((c) => (lease.committedGpus[c] ?? 0) > 0)) continue;
    if (!leaseEnded(lease, at)) continue;
    if (!latest || effectiveEnd(lease) > effectiveEnd(latest)) latest = lease;
  }
  return latest;
}
