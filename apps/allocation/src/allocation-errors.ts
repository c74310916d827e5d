import { HttpStatus } from '@nestjs/common';
import { allocation } from '@fleetledger/contracts';
import { ErrorTaxonomy } from '@fleetledger/platform';

/**
 * Allocation's one error taxonomy: every reason a command is refused with (the contracts list them, so
 * Kafka replies carry the same codes), with its HTTP status. Placement outcomes (queued / rejected with
 * capacity, quota, ...) are not errors: they are decisions, recorded as events and answered 201/200.
 */
export const allocationErrors = new ErrorTaxonomy<allocation.CommandRejectionReason>({
  'unknown-lease': HttpStatus.NOT_FOUND,
  'not-placed': HttpStatus.NOT_FOUND,
  'unknown-workload': HttpStatus.NOT_FOUND,
  'not-queued': HttpStatus.CONFLICT,
  'stale-command': HttpStatus.CONFLICT,
  duplicate: HttpStatus.CONFLICT,
  'exclusive-overlap': HttpStatus.CONFLICT,
  'wrong-status': HttpStatus.CONFLICT,
  unchanged: HttpStatus.CONFLICT,
  'beyond-fleet': HttpStatus.UNPROCESSABLE_ENTITY,
  'beyond-scope': HttpStatus.UNPROCESSABLE_ENTITY,
  invalid: HttpStatus.UNPROCESSABLE_ENTITY,
  'unknown-class': HttpStatus.BAD_REQUEST,
});
