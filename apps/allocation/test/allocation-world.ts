import { allocation, inventory, NewEvent } from '@fleetledger/contracts';
import { decideLease, LeaseCommand } from '../src/domain/lease';
import { LeaseEndEvents, runExpireDue, runTerminate } from '../src/domain/lease-end';
import { runEvictions, runQueue, runRelease, runSubmit, runWithdraw } from '../src/domain/ledger';
import { decideQuotaChange, QuotaCommand } from '../src/domain/quota';
import { isRejection } from '../src/domain/rejection';
import { AllocationState, evolve, fleetFacts } from '../src/domain/state';
import { fleetEvents, HallSpec } from './fleet-builder';

export const T0 = '2026-03-01T00:00:00.000Z';
export const TERM = { start: '2026-01-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' };

/** A tiny allocation world for tests: a fleet, leases, quotas, and the engine's run functions. */
export class World {
  readonly state = new AllocationState();
  readonly log: NewEvent[] = [];

  constructor(halls: HallSpec[], options?: { sitePowerCapW?: number }) {
    for (const event of fleetEvents(halls, options)) evolve(this.state, event);
  }

  apply(events: NewEvent[] | { kind: 'rejected'; reason: string; detail: string }): NewEvent[] {
    if (isRejection(events)) throw new Error(`rejected: ${events.reason}: ${events.detail}`);
    for (const event of events) evolve(this.state, event);
    this.log.push(...events);
    return events;
  }

  lease(command: LeaseCommand) {
    return decideLease(this.state.leases, command, fleetFacts(this.state));
  }

  /** Signs and activates a lease committing `committed` GPUs. */
  activeLease(
    leaseId: string,
    tenantId: string,
    committed: allocation.CommittedGpus,
    scope?: allocation.LeaseScope,
    term: allocation.LeaseTerm = TERM,
  ): void {
    this.signedLease(leaseId, tenantId, committed, scope, term);
    this.apply(this.lease({ kind: 'activate', leaseId, author: 'ops', at: T0 }));
  }

  /** Signs (only) a lease committing `committed` GPUs. */
  signedLease(
    leaseId: string,
    tenantId: string,
    committed: allocation.CommittedGpus,
    scope?: allocation.LeaseScope,
    term: allocation.LeaseTerm = TERM,
  ): void {
    this.apply(
      this.lease({
        kind: 'sign',
        leaseId,
        tenantId,
        term,
        committedGpus: committed,
        exclusivity: scope ? 'exclusive' : 'shared',
        scope: scope ?? { hallIds: [], rackIds: [] },
        ratePlanId: 'rp-1',
        author: 'sales',
        at: T0,
      }),
    );
  }

  quota(
    tenantId: string,
    gpuClass: allocation.GpuClass,
    workloadClass: allocation.WorkloadClass,
    change: QuotaCommand,
  ): NewEvent[] {
    return this.apply(
      decideQuotaChange(this.state.quotas.get(tenantId) ?? new Map(), {
        tenantId,
        gpuClass,
        workloadClass,
        change,
        reason: 'test',
        author: 'test',
        at: T0,
      }),
    );
  }

  submit(
    request: Partial<allocation.WorkloadRequest> & { workloadId: string; tenantId: string; gpuCount: number },
    at = T0,
  ): NewEvent[] {
    const full: allocation.WorkloadRequest = {
      workloadClass: 'training',
      gang: true,
      topology: 'any',
      priority: 10,
      ...request,
    };
    const events = runSubmit(this.state, full, at);
    if (isRejection(events)) throw new Error(events.detail);
    this.log.push(...events);
    return events;
  }

  release(workloadId: string, at = T0): NewEvent[] {
    const events = runRelease(this.state, workloadId, at);
    if (isRejection(events)) throw new Error(events.detail);
    this.log.push(...events);
    return events;
  }

  withdraw(workloadId: string, at = T0) {
    const events = runWithdraw(this.state, workloadId, at, 'no longer needed');
    if (!isRejection(events)) this.log.push(...events);
    return events;
  }

  /** The expiry sweep at `at`. */
  expireDue(at: string): LeaseEndEvents {
    const events = runExpireDue(this.state, at, 'cron');
    this.log.push(...events.leaseBook, ...events.ledger);
    return events;
  }

  terminate(leaseId: string, at: string): LeaseEndEvents {
    const events = runTerminate(
      this.state,
      { kind: 'terminate', leaseId, reason: 'test', author: 'ops', at },
      fleetFacts(this.state),
    );
    if (isRejection(events)) throw new Error(`rejected: ${events.reason}: ${events.detail}`);
    this.log.push(...events.leaseBook, ...events.ledger);
    return events;
  }

  inventory(event: inventory.InventoryEvent, at = T0): NewEvent[] {
    evolve(this.state, event);
    const gpuIds =
      'gpuIds' in event.payload
        ? (event.payload.gpuIds as string[])
        : 'gpuId' in event.payload
          ? [event.payload.gpuId as string]
          : [];
    const events = [...runEvictions(this.state, gpuIds, at), ...runQueue(this.state, at)];
    this.log.push(...events);
    return events;
  }

  drainQueue(at = T0): NewEvent[] {
    const events = runQueue(this.state, at);
    this.log.push(...events);
    return events;
  }

  placementOf(workloadId: string) {
    return this.state.placements.get(workloadId);
  }
}

export const outcome = (events: NewEvent[]) =>
  events
    .filter((e) => e.type !== allocation.WorkloadSubmitted.type)
    .map((e) => e.type.replace('allocation.Workload', ''));
export const reasonOf = (events: NewEvent[]) => (events.at(-1)?.payload as { reason?: string }).reason;
