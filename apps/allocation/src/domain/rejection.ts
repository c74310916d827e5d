import { allocation, Rejection as AnyRejection } from '@fleetledger/contracts';

export { isRejection, reject } from '@fleetledger/contracts';

/** Why allocation refuses a command: one of the codes of its error taxonomy (contracts list them). */
export type Rejection<R extends allocation.CommandRejectionReason = allocation.CommandRejectionReason> =
  AnyRejection<R>;

export type PlacementRejectionReason = allocation.RejectionReason;
