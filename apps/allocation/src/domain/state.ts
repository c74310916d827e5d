import { allocation, inventory } from '@fleetledger/contracts';
import { CapacityView } from './capacity';
import { evolveLeases, FleetFacts, Lease, LeaseBook } from './lease';
import { evolveQuotas, TenantQuotas } from './quota';
import { DEFAULT_ROUTES, evolveRoutes } from './routing';

type GpuClass = allocation.GpuClass;

export interface Placement {
  placementId: string;
  workloadId: string;
  tenantId: string;
  leaseId: string;
  workloadClass: allocation.WorkloadClass;
  gpuClass: GpuClass;
  gpuIds: string[];
  nodeIds: string[];
  rackIds: string[];
  priority: number;
  borrowed: boolean;
  placedAt: string;
  /** The class the routing policy asked for first and why this one was used (absent on old placements). */
  routing?: { requestedClass: GpuClass; reason: string };
}

export type SubmittedWorkload = allocation.WorkloadSubmittedPayload;

export interface WorkloadRecord {
  request: SubmittedWorkload;
  status: 'placed' | 'queued' | 'rejected' | 'released' | 'withdrawn';
  /** How many times it has been placed (placement ids are `<workloadId>#<n>`). */
  placements: number;
  /** Submission order (ties of priority and submission time go to the earlier submission). */
  seq: number;
  /** Why it waits (or was refused): the latest WorkloadQueued / WorkloadRejected. */
  reason?: allocation.RejectionReason;
  detail?: string;
}

/**
 * Everything the allocation decisions read: the capacity view, leases, quotas, routing and the
 * placement ledger. Mutable for speed (220,000 GPUs): `evolve` changes it in place, and only
 * `evolve` does; decisions read it and return events.
 */
export class AllocationState {
  readonly view = new CapacityView();
  leases: LeaseBook = new Map();
  readonly quotas = new Map<string, TenantQuotas>();
  routes: allocation.Routes = DEFAULT_ROUTES;
  readonly workloads = new Map<string, WorkloadRecord>();
  /** Current placement of each placed workload. */
  readonly placements = new Map<string, Placement>();
  readonly placementsById = new Map<string, Placement>();
  /** GPUs in use per `tenant|gpuClass|workloadClass` (quota) and per `lease|gpuClass` (borrowing). */
  readonly usage = new Map<string, number>();
  readonly leaseUsage = new Map<string, number>();
  /** Current placements per quota scope `tenant|gpuClass|workloadClass` (the victims of a quota preemption). */
  readonly placementsByScope = new Map<string, Set<Placement>>();
  /** Queued workload ids in arrival order (drained by priority, then arrival). */
  readonly queue = new Map<string, SubmittedWorkload>();
  /**
   * The latest decision time on `placement-ledger` (the time of its latest event; ISO, '' when empty).
   * A ledger command stamped earlier is refused (`stale-command`): see `checkCommandTime`.
   */
  ledgerAt = '';

  usageOf(tenantId: string, gpuClass: GpuClass, workloadClass: allocation.WorkloadClass): number {
    return this.usage.get(scopeKey(tenantId, gpuClass, workloadClass)) ?? 0;
  }

  placementsInScope(
    tenantId: string,
    gpuClass: GpuClass,
    workloadClass: allocation.WorkloadClass,
  ): ReadonlySet<Placement> {
    return this.placementsByScope.get(scopeKey(tenantId, gpuClass, workloadClass)) ?? NONE;
  }

  leaseUsageOf(leaseId: string, gpuClass: GpuClass): number {
    return this.leaseUsage.get(`${leaseId}|${gpuClass}`) ?? 0;
  }

  racksOf(lease: Lease): string[] {
    return this.view.racksInScope(lease.scope).map((r) => r.rackId);
  }

  /** Returns to shared capacity the racks this lease fences (only those: another lease may fence the others by now). */
  unfence(lease: Lease): void {
    const mine = this.view.racksInScope(lease.scope).filter((r) => r.fence === lease.leaseId);
    this.view.setFence(
      mine.map((r) => r.rackId),
      null,
    );
  }
}

/** What lease decisions need to know of the fleet: GPUs installed, in all or in a lease's scope. */
export function fleetFacts(state: AllocationState): FleetFacts {
  return {
    installedGpus: () => state.view.installedGpus(),
    scopeCapacity: (scope) => {
      const racks = state.view.racksInScope(scope);
      return { rackIds: racks.map((r) => r.rackId), gpus: state.view.installedGpus(racks) };
    },
  };
}

const NONE: ReadonlySet<Placement> = new Set();
const scopeKey = (tenantId: string, gpuClass: GpuClass, workloadClass: allocation.WorkloadClass) =>
  `${tenantId}|${gpuClass}|${workloadClass}`;

function bump(map: Map<string, number>, key: string, delta: number): void {
  const next = (map.get(key) ?? 0) + delta;
  if (next === 0) map.delete(key);
  else map.set(key, next);
}

function endPlacement(state: AllocationState, workloadId: string, placementId: string): void {
  const placement = state.placementsById.get(placementId);
  if (!placement) return;
  state.view.free(placementId, placement.gpuIds);
  const scope = scopeKey(placement.tenantId, placement.gpuClass, placement.workloadClass);
  bump(state.usage, scope, -placement.gpuIds.length);
  const inScope = state.placementsByScope.get(scope);
  inScope?.delete(placement);
  if (inScope?.size === 0) state.placementsByScope.delete(scope);
  bump(state.leaseUsage, `${placement.leaseId}|${placement.gpuClass}`, -placement.gpuIds.length);
  state.placementsById.delete(placementId);
  if (state.placements.get(workloadId)?.placementId === placementId) state.placements.delete(workloadId);
}

/** The decision time of a placement-ledger event (every Workload* event names one). */
function ledgerTimeOf(event: allocation.AllocationEvent): string | undefined {
  switch (event.type) {
    case allocation.WorkloadSubmitted.type:
      return event.payload.submittedAt;
    case allocation.WorkloadPlaced.type:
      return event.payload.placedAt;
    case allocation.WorkloadQueued.type:
      return event.payload.queuedAt;
    case allocation.WorkloadRejected.type:
      return event.payload.rejectedAt;
    case allocation.WorkloadReleased.type:
      return event.payload.releasedAt;
    case allocation.WorkloadPreempted.type:
      return event.payload.preemptedAt;
    case allocation.WorkloadEvicted.type:
      return event.payload.evictedAt;
    case allocation.WorkloadWithdrawn.type:
      return event.payload.withdrawnAt;
    default:
      return undefined;
  }
}

/** Applies one allocation or inventory event to the state, in place. */
export function evolve(state: AllocationState, event: { type: string; payload: unknown }): void {
  if (inventory.isInventoryEvent(event)) {
    state.view.applyInventoryEvent(event);
    return;
  }
  if (!allocation.isAllocationEvent(event)) return;
  const at = ledgerTimeOf(event);
  if (at && (!state.ledgerAt || Date.parse(at) > Date.parse(state.ledgerAt)))
    state.ledgerAt = new Date(Date.parse(at)).toISOString();
  switch (event.type) {
    case allocation.LeaseSigned.type:
    case allocation.LeaseAmended.type: {
      const before = state.leases.get(event.payload.leaseId);
      state.leases = evolveLeases(state.leases, event);
      const after = state.leases.get(event.payload.leaseId);
      if (before?.status === 'active' && after?.exclusivity === 'exclusive') {
        state.unfence(before);
        state.view.setFence(state.racksOf(after), after.leaseId);
      }
      return;
    }
    case allocation.LeaseActivated.type: {
      state.leases = evolveLeases(state.leases, event);
      const lease = state.leases.get(event.payload.leaseId);
      if (lease?.exclusivity === 'exclusive') state.view.setFence(state.racksOf(lease), lease.leaseId);
      return;
    }
    case allocation.LeaseTerminated.type:
    case allocation.LeaseExpired.type: {
      // A lease that was only signed fenced nothing; an active one gives back the racks it still fences.
      const before = state.leases.get(event.payload.leaseId);
      state.leases = evolveLeases(state.leases, event);
      if (before?.status === 'active' && before.exclusivity === 'exclusive') state.unfence(before);
      return;
    }
    case allocation.QuotaChanged.type: {
      const tenantId = event.payload.tenantId;
      state.quotas.set(tenantId, evolveQuotas(state.quotas.get(tenantId) ?? new Map(), event));
      return;
    }
    case allocation.RoutingPolicyChanged.type:
      state.routes = evolveRoutes(state.routes, event);
      return;
    case allocation.WorkloadSubmitted.type: {
      const p = event.payload;
      state.workloads.set(p.workloadId, {
        request: p,
        status: 'queued',
        placements: 0,
        seq: state.workloads.size,
      });
      return;
    }
    case allocation.WorkloadPlaced.type: {
      const p = event.payload;
      const placement: Placement = { ...p };
      state.view.allocate(p.placementId, p.gpuIds);
      state.placements.set(p.workloadId, placement);
      state.placementsById.set(p.placementId, placement);
      const scope = scopeKey(p.tenantId, p.gpuClass, p.workloadClass);
      bump(state.usage, scope, p.gpuIds.length);
      let inScope = state.placementsByScope.get(scope);
      if (!inScope) state.placementsByScope.set(scope, (inScope = new Set()));
      inScope.add(placement);
      bump(state.leaseUsage, `${p.leaseId}|${p.gpuClass}`, p.gpuIds.length);
      state.queue.delete(p.workloadId);
      const record = state.workloads.get(p.workloadId);
      if (record) {
        record.status = 'placed';
        record.placements += 1;
      }
      return;
    }
    case allocation.WorkloadQueued.type: {
      const p = event.payload;
      const record = state.workloads.get(p.workloadId);
      if (record) {
        record.status = 'queued';
        record.reason = p.reason;
        record.detail = p.detail;
        state.queue.set(p.workloadId, record.request);
      }
      return;
    }
    case allocation.WorkloadRejected.type: {
      const p = event.payload;
      const record = state.workloads.get(p.workloadId);
      if (record) {
        record.status = 'rejected';
        record.reason = p.reason;
        record.detail = p.detail;
      }
      state.queue.delete(p.workloadId);
      return;
    }
    case allocation.WorkloadWithdrawn.type: {
      const p = event.payload;
      state.queue.delete(p.workloadId);
      const record = state.workloads.get(p.workloadId);
      if (record) record.status = 'withdrawn';
      return;
    }
    case allocation.WorkloadReleased.type: {
      const p = event.payload;
      endPlacement(state, p.workloadId, p.placementId);
      const record = state.workloads.get(p.workloadId);
      if (record) record.status = 'released';
      return;
    }
    case allocation.WorkloadPreempted.type:
    case allocation.WorkloadEvicted.type: {
      // The workload is queued again by a WorkloadQueued or placed again by a WorkloadPlaced that follows.
      const p = event.payload;
      endPlacement(state, p.workloadId, p.placementId);
      return;
    }
  }
}
