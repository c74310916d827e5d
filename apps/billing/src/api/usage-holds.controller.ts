import { Controller, Get } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { ActingTenant, Allow } from '@fleetledger/platform';

/**
 * Usage accepted but not billed, visibly: 'pending' (waiting for its lease or rate plan, rated as soon as it
 * arrives) or 'absorbed' (a correction that changed no amount because of a take-or-pay minimum).
 */
@ApiTags('usage-holds')
@ApiHeader({ name: 'x-tenant-id', required: true, description: 'the tenant whose held usage to list' })
@Controller('usage-holds')
export class UsageHoldsController {
  constructor(private readonly dataSource: DataSource) {}

  @Get()
  @Allow('finance', 'operator')
  @ApiOperation({ summary: "the caller's usage events that are held (not billed), with the reason" })
  async list(@ActingTenant() tenantId: string) {
    const rows = await this.dataSource.query<
      { event_id: string; lease_id: string; status: string; reason: string; detail: string }[]
    >(
      `SELECT event_id, lease_id, status, reason, detail FROM billing.usage_holds WHERE tenant_id = $1 ORDER BY event_id`,
      [tenantId],
    );
    return rows.map((row) => ({
      eventId: row.event_id,
      leaseId: row.lease_id,
      status: row.status,
      reason: row.reason,
      detail: row.detail,
    }));
  }
}
