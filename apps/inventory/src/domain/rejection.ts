import { Rejection as GenericRejection } from '@fleetledger/contracts';

/**
 * Why the inventory refuses a command. One code per business rule; the API maps each to an HTTP
 * status (see api/inventory-errors.ts).
 */
export const rejectionReasons = [
  'unknown-site',
  'unknown-hall',
  'unknown-rack',
  'unknown-node',
  'unknown-gpu',
  /** The id exists with different attributes (an identical re-registration is accepted and changes nothing). */
  'already-registered',
  /** A GPU id is already in another node, or twice in one command. */
  'gpu-in-two-nodes',
  'invalid-node-shape',
  'rack-full',
  'rack-power-budget-exceeded',
  'hall-power-cap-exceeded',
  'site-power-cap-exceeded',
  'budget-below-draw',
  'node-decommissioned',
  'node-not-drained',
] as const;

export type RejectionReason = (typeof rejectionReasons)[number];

export type Rejection = GenericRejection<RejectionReason>;

export { isRejection, reject } from '@fleetledger/contracts';
