import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ident } from '@fleetledger/eventstore';
import { BILLING_SCHEMA } from '../billing.options';

const S = ident(BILLING_SCHEMA);

export interface UsageHold {
  eventId: string;
  leaseId: string;
  status: string;
  reason: string;
  detail: string;
}

/** Usage accepted but not billed (billing.usage_holds), as the API shows it. */
@Injectable()
export class UsageHoldQueries {
  constructor(private readonly dataSource: DataSource) {}

  async ofTenant(tenantId: string): Promise<UsageHold[]> {
    const rows = await this.dataSource.query<
      { event_id: string; lease_id: string; status: string; reason: string; detail: string }[]
    >(
      `SELECT event_id, lease_id, status, reason, detail FROM ${S}.usage_holds WHERE tenant_id = $1 ORDER BY event_id`,
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
