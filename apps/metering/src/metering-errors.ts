import { HttpStatus } from '@nestjs/common';
import { ErrorTaxonomy } from '@fleetledger/platform';

/**
 * Metering's one error taxonomy: every reason a request is refused with, and its HTTP status. (A sample
 * refused inside an accepted batch is not an error: the batch reply lists it with its reason.)
 */
export const meteringErrors = new ErrorTaxonomy<
  'invalid-day' | 'archive-before-close' | 'archive-too-recent' | 'workload-not-found'
>({
  'invalid-day': HttpStatus.BAD_REQUEST,
  'archive-before-close': HttpStatus.CONFLICT,
  'archive-too-recent': HttpStatus.CONFLICT,
  'workload-not-found': HttpStatus.NOT_FOUND,
});
