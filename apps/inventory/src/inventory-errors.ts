import { HttpStatus } from '@nestjs/common';
import { ErrorTaxonomy } from '@fleetledger/platform';
import { RejectionReason } from './domain/rejection';

/**
 * The inventory's one error taxonomy: each domain rejection reason is the error code in the body
 * (`{ error: <reason>, message: <detail> }`), with this status; plus the fleet file refused at the edge.
 */
export const inventoryErrors = new ErrorTaxonomy<RejectionReason | 'invalid-fleet-file'>({
  'unknown-site': HttpStatus.NOT_FOUND,
  'unknown-hall': HttpStatus.NOT_FOUND,
  'unknown-rack': HttpStatus.NOT_FOUND,
  'unknown-node': HttpStatus.NOT_FOUND,
  'unknown-gpu': HttpStatus.NOT_FOUND,
  'already-registered': HttpStatus.CONFLICT,
  'gpu-in-two-nodes': HttpStatus.CONFLICT,
  'invalid-node-shape': HttpStatus.UNPROCESSABLE_ENTITY,
  'rack-full': HttpStatus.UNPROCESSABLE_ENTITY,
  'rack-power-budget-exceeded': HttpStatus.UNPROCESSABLE_ENTITY,
  'hall-power-cap-exceeded': HttpStatus.UNPROCESSABLE_ENTITY,
  'site-power-cap-exceeded': HttpStatus.UNPROCESSABLE_ENTITY,
  'budget-below-draw': HttpStatus.UNPROCESSABLE_ENTITY,
  'node-decommissioned': HttpStatus.CONFLICT,
  'node-not-drained': HttpStatus.CONFLICT,
  'invalid-fleet-file': HttpStatus.BAD_REQUEST,
});

export function rejectionStatus(reason: RejectionReason): HttpStatus {
  return inventoryErrors.status(reason);
}
