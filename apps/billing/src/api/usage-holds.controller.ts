import { Controller, Get } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ActingTenant, Allow } from '@fleetledger/platform';
import { UsageHoldQueries } from '../queries/usage-holds.queries';

/**
 * Usage accepted but not billed, visibly: 'pending' (waiting for its lease or rate plan, rated as soon as it
 * arrives) or 'absorbed' (a correction that changed no amount because of a take-or-pay minimum).
 */
@ApiTags('usage-holds')
@ApiHeader({ name: 'x-tenant-id', required: true, description: 'the tenant whose held usage to list' })
@Controller('usage-holds')
export class UsageHoldsController {
  constructor(private readonly holds: UsageHoldQueries) {}

  @Get()
  @Allow('finance', 'operator')
  @ApiOperation({ summary: "the caller's usage events that are held (not billed), with the reason" })
  list(@ActingTenant() tenantId: string) {
    return this.holds.ofTenant(tenantId);
  }
}
