/** The stream moved on since the caller read it: nothing was written. Maps to HTTP 409. */
export class WrongExpectedVersionError extends Error {
  readonly code = 'wrong-expected-version';
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(
      `stream ${streamId} is at version ${actualVersion}, the append expected ${expectedVersion}; nothing was written`,
    );
    this.name = 'WrongExpectedVersionError';
  }
}

/** An event about to be appended does not match its contract: a bug in the deciding code. */
export class InvalidEventError extends Error {
  readonly code = 'invalid-event';
  constructor(
    readonly eventType: string,
    readonly reason: string,
  ) {
    super(`refusing to append ${eventType}: ${reason}`);
    this.name = 'InvalidEventError';
  }
}

/**
 * Thrown by a consumer's handler when a well-formed event cannot be applied and never will be
 * (for example it refers to something this service has never heard of). The record goes to the DLQ.
 */
export class PoisonMessageError extends Error {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(detail);
    this.name = 'PoisonMessageError';
  }
}

/**
 * An append that does not say who caused it: a bug in the calling code (every event records its
 * principal, DESIGN.md section 5a). Nothing was written.
 */
export class MissingPrincipalError extends Error {
  readonly code = 'missing-principal';
  constructor(readonly streamId: string) {
    super(`refusing to append to ${streamId}: no principal (who caused it) in the append context`);
    this.name = 'MissingPrincipalError';
  }
}
