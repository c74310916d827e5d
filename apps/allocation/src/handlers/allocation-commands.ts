import { allocation, EventEnvelope, NewEvent, payloadsOf } from '@fleetledger/contracts';
import { decideLease, LeaseCommand } from '../domain/lease';
import { commandTime } from '../domain/command-time';
import { expireDueSteps, terminateSteps } from '../domain/lease-end';
import { redriveSteps, releaseSteps } from '../domain/ledger';
import { decideSubmit, decideWithdraw } from '../domain/workload';
import { ChangeQuota, decideQuotaChange } from '../domain/quota';
import { isRejection, Rejection } from '../domain/rejection';
import { ChangeRoutes, decideRoutingChange } from '../domain/routing';
import { AllocationState, fleetFacts } from '../domain/state';
import { allocationErrors } from '../allocation-errors';
import { AllocationEngine, RejectedCommand } from './allocation-engine';

const S = allocation.AllocationStreams;

export function toServiceError(rejection: Rejection) {
  return allocationErrors.error(rejection);
}

/** The use cases of the allocation service: each one a stream, a decision and an append. */
export class AllocationCommands {
  constructor(private readonly engine: AllocationEngine) {}

  private async run(promise: Promise<EventEnvelope[]>): Promise<EventEnvelope[]> {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof RejectedCommand) throw toServiceError(error.rejection);
      throw error;
    }
  }

  lease(command: LeaseCommand, correlationId: string) {
    // A termination also ends the lease's placements (placement-ledger), in the same transaction.
    if (command.kind === 'terminate')
      return this.run(
        this.engine.executeAcross(correlationId, (state) =>
          terminateSteps(state, command, fleetFacts(state)),
        ),
      );
    // Signing, activating or amending a lease can change what queued work may use: the queue is re-driven.
    return this.redriving(
      S.leaseBook,
      correlationId,
      (state) => decideLease(state.leases, command, fleetFacts(state)),
      command.at,
    );
  }

  quota(command: ChangeQuota, correlationId: string) {
    return this.redriving(
      S.quota(command.tenantId),
      correlationId,
      (state) => decideQuotaChange(state.quotas.get(command.tenantId) ?? new Map(), command),
      command.at,
    );
  }

  routing(command: ChangeRoutes, correlationId: string) {
    return this.redriving(
      S.routingPolicy,
      correlationId,
      (state) => decideRoutingChange(state.routes, command),
      command.at,
    );
  }

  /**
   * A change on its own stream, then the queue re-driven on `placement-ledger` (issue #15, 4), in one
   * transaction: queued work placed, refused or told its current reason. The caller gets the
   * change's events first.
   */
  private redriving(
    streamId: string,
    correlationId: string,
    decide: (state: AllocationState) => NewEvent[] | Rejection,
    at: string,
  ) {
    return this.run(
      this.engine.executeAcross(correlationId, (state) => {
        const events = decide(state);
        return isRejection(events) ? events : redriveSteps(state, { streamId, events }, at);
      }),
    );
  }

  /**
   * Submit: the workload is placed, queued or rejected; the events say which. `requestedAt` absent:
   * the service stamps it (its clock, never before the ledger's latest decision).
   */
  submit(request: allocation.WorkloadRequest, requestedAt: string | undefined, correlationId: string) {
    const now = new Date().toISOString();
    return this.run(
      this.engine.execute(S.placementLedger, correlationId, (state) =>
        decideSubmit(state, request, commandTime(state, requestedAt, now)),
      ),
    );
  }

  /** The expiry sweep at `at`: LeaseExpired for every lease due, then their placements end and the queue runs. */
  expireDue(at: string, author: string, correlationId: string) {
    return this.run(this.engine.executeAcross(correlationId, (state) => expireDueSteps(state, at, author)));
  }

  withdraw(
    workloadId: string,
    requestedAt: string | undefined,
    reason: string | undefined,
    correlationId: string,
  ) {
    const now = new Date().toISOString();
    return this.run(
      this.engine.execute(S.placementLedger, correlationId, (state) =>
        decideWithdraw(state, workloadId, commandTime(state, requestedAt, now), reason),
      ),
    );
  }

  release(workloadId: string, requestedAt: string | undefined, correlationId: string) {
    const now = new Date().toISOString();
    return this.run(
      this.engine.executeAcross(correlationId, (state) =>
        releaseSteps(state, workloadId, commandTime(state, requestedAt, now)),
      ),
    );
  }
}

/** What a place request's caller gets back, from the events the submission produced. */
export function placeReply(workloadId: string, events: readonly EventEnvelope[]): allocation.PlaceReply {
  let placed: allocation.WorkloadPlacedPayload | undefined;
  let unplaced:
    { outcome: 'queued' | 'rejected'; reason: allocation.RejectionReason; detail: string } | undefined;
  const preempted: string[] = [];
  for (const event of events) {
    if (!allocation.isAllocationEvent(event)) continue;
    switch (event.type) {
      case allocation.WorkloadPreempted.type:
        preempted.push(event.payload.workloadId);
        break;
      case allocation.WorkloadPlaced.type:
        if (event.payload.workloadId === workloadId) placed ??= event.payload;
        break;
      case allocation.WorkloadQueued.type:
      case allocation.WorkloadRejected.type: {
        const { reason, detail } = event.payload;
        if (event.payload.workloadId === workloadId)
          unplaced = {
            outcome: event.type === allocation.WorkloadQueued.type ? 'queued' : 'rejected',
            reason,
            detail,
          };
        break;
      }
    }
  }
  if (placed)
    return {
      outcome: 'placed',
      workloadId,
      placementId: placed.placementId,
      leaseId: placed.leaseId,
      gpuClass: placed.gpuClass,
      gpuIds: placed.gpuIds,
      nodeIds: placed.nodeIds,
      borrowed: placed.borrowed,
      preempted,
      ...(placed.routing
        ? { requestedClass: placed.routing.requestedClass, routingReason: placed.routing.reason }
        : {}),
    };
  if (!unplaced) throw new Error(`the submission of ${workloadId} decided neither a placement nor a reason`);
  return { ...unplaced, workloadId };
}

/** The placement a release ended, from the release's events. */
export function releasedPlacementId(workloadId: string, events: readonly EventEnvelope[]): string {
  const released = payloadsOf(allocation.WorkloadReleased, events).find((p) => p.workloadId === workloadId);
  if (!released) throw new Error(`the release of ${workloadId} released nothing`);
  return released.placementId;
}
