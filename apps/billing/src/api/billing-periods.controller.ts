import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ActingTenant, Allow, CorrelationId } from '@fleetledger/platform';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { MonthCloseHandler } from '../handlers/month-close.handler';

class PeriodParamsDto extends createZodDto(
  z.object({ period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/) }),
) {}
class CloseDto extends createZodDto(
  /** When the close runs; the month must be over by then. */
  z.object({ closedAt: z.iso.datetime({ offset: true }) }),
) {}

/**
 * Month close (finance, operators; in production the billing scheduler's CronJob calls it on the 1st of each
 * month, 00:15 UTC, for the month just ended). Idempotent: calling it again changes nothing.
 */
@ApiTags('billing-periods')
@Controller('billing-periods')
export class BillingPeriodsController {
  constructor(private readonly handler: MonthCloseHandler) {}

  @Post(':period/close')
  @HttpCode(200)
  @Allow('finance', 'operator')
  @ApiHeader({
    name: 'x-tenant-id',
    required: false,
    description: 'close the month for this tenant only; without it, for every tenant',
  })
  @ApiOperation({
    summary:
      'draft the invoice of every lease commitment owed in the month (with or without usage); idempotent',
  })
  close(
    @ActingTenant({ required: false }) tenantId: string | undefined,
    @Param() params: PeriodParamsDto,
    @Body() body: CloseDto,
    @CorrelationId() correlationId: string,
  ) {
    return this.handler.close(params.period, body.closedAt, tenantId, { correlationId });
  }
}
