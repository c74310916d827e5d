import { HttpStatus } from '@nestjs/common';
import { ErrorTaxonomy, ServiceError } from '@fleetledger/platform';
import { InvoiceRejectionReason } from './domain/invoice';
import { MonthCloseRejection } from './domain/month-close';
import { PublishRejection } from './domain/rate-plans';
import { RatingRejection } from './domain/rating';

/** Every reason billing's domain refuses a command with. */
export type BillingErrorCode =
  | InvoiceRejectionReason
  | RatingRejection['reason']
  | PublishRejection['reason']
  | MonthCloseRejection['reason'];

/**
 * Billing's one error taxonomy: every rejection reason the domain returns, with the HTTP status it maps to.
 * Inside the Kafka consumer the same reasons name why usage is held (usage_holds.reason).
 */
export const billingErrors = new ErrorTaxonomy<BillingErrorCode>({
  'invoice-not-found': HttpStatus.NOT_FOUND,
  'invoice-finalized': HttpStatus.CONFLICT,
  'invoice-not-finalized': HttpStatus.CONFLICT,
  'credit-exceeds-invoice': HttpStatus.UNPROCESSABLE_ENTITY,
  'credit-not-positive': HttpStatus.UNPROCESSABLE_ENTITY,
  'currency-mismatch': HttpStatus.UNPROCESSABLE_ENTITY,
  'mixed-currencies': HttpStatus.UNPROCESSABLE_ENTITY,
  'no-rate-plan-in-effect': HttpStatus.UNPROCESSABLE_ENTITY,
  'nothing-to-bill': HttpStatus.UNPROCESSABLE_ENTITY,
  'correction-raises-invoice': HttpStatus.CONFLICT,
  'version-not-next': HttpStatus.CONFLICT,
  'duplicate-class': HttpStatus.UNPROCESSABLE_ENTITY,
  'currency-changed': HttpStatus.UNPROCESSABLE_ENTITY,
  'gpu-class-not-priced': HttpStatus.UNPROCESSABLE_ENTITY,
  'period-not-ended': HttpStatus.UNPROCESSABLE_ENTITY,
  'period-incomplete': HttpStatus.CONFLICT,
});

export function billingError(rejection: {
  reason: BillingErrorCode;
  detail: string;
}): ServiceError<BillingErrorCode> {
  return billingErrors.error(rejection);
}
