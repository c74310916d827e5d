import { Body, Controller, Get, HttpCode, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  actingTenant,
  Allow,
  assertTenantAccess,
  CallerPrincipal,
  CorrelationId,
} from '@fleetledger/platform';
import { AllocationCommands } from '../handlers/allocation-commands';
import { AllocationQueries } from '../handlers/allocation-queries';
import { allocation, payloadsOf, Principal } from '@fleetledger/contracts';
import { ActivateLeaseDto, AmendLeaseDto, ExpireDueLeasesDto, SignLeaseDto, TerminateLeaseDto } from './dto';

const now = () => new Date().toISOString();
const summary = (events: { eventId: string; type: string; streamVersion: number }[]) => ({
  events: events.map((e) => ({ eventId: e.eventId, type: e.type, streamVersion: e.streamVersion })),
});

/** Operators sign and run leases; a tenant reads its own. */
@ApiTags('leases')
@Allow('operator')
@Controller('leases')
export class LeasesController {
  constructor(
    private readonly commands: AllocationCommands,
    private readonly queries: AllocationQueries,
  ) {}

  @Post()
  @ApiOperation({
    summary:
      'Sign a lease (tenant, term [start, end), committed GPUs per class, exclusive or shared); queued work is re-driven',
  })
  async sign(
    @Body() body: SignLeaseDto,
    @CorrelationId() correlationId: string,
    @CallerPrincipal() caller: Principal,
  ) {
    const { at, ...terms } = body;
    actingTenant(caller, terms.tenantId);
    return summary(await this.commands.lease({ kind: 'sign', ...terms, at: at ?? now() }, correlationId));
  }

  /**
   * The expiry sweep (an operator or a cron, every minute or so): expires every lease whose term
   * ended by `at` and ends the placements of ended leases (WorkloadEvicted, cause `lease-ended`).
   */
  @Post('expire-due')
  @ApiOperation({
    summary:
      'Expire every lease whose term ended by `at`: lift fences, end their placements, re-drive the queue',
  })
  @HttpCode(200)
  async expireDue(@Body() body: ExpireDueLeasesDto, @CorrelationId() correlationId: string) {
    const events = await this.commands.expireDue(body.at ?? now(), body.author, correlationId);
    return {
      expired: payloadsOf(allocation.LeaseExpired, events).map((p) => p.leaseId),
      evicted: payloadsOf(allocation.WorkloadEvicted, events).map((p) => p.placementId),
      ...summary(events),
    };
  }

  @Post(':leaseId/activate')
  @ApiOperation({
    summary: 'Activate a signed lease (an exclusive one fences its racks); queued work is re-driven',
  })
  async activate(
    @Param('leaseId') leaseId: string,
    @Body() body: ActivateLeaseDto,
    @CorrelationId() correlationId: string,
  ) {
    return summary(
      await this.commands.lease(
        { kind: 'activate', leaseId, author: body.author, at: body.at ?? now() },
        correlationId,
      ),
    );
  }

  @Post(':leaseId/amend')
  @ApiOperation({
    summary: "Amend a lease's term, commitments, scope or rate plan from `at`; queued work is re-driven",
  })
  async amend(
    @Param('leaseId') leaseId: string,
    @Body() body: AmendLeaseDto,
    @CorrelationId() correlationId: string,
  ) {
    return summary(
      await this.commands.lease({ kind: 'amend', leaseId, ...body, at: body.at ?? now() }, correlationId),
    );
  }

  @Post(':leaseId/terminate')
  @ApiOperation({ summary: 'Terminate a lease at `at`: its placements end, queued work is re-driven' })
  async terminate(
    @Param('leaseId') leaseId: string,
    @Body() body: TerminateLeaseDto,
    @CorrelationId() correlationId: string,
  ) {
    return summary(
      await this.commands.lease(
        { kind: 'terminate', leaseId, reason: body.reason, author: body.author, at: body.at ?? now() },
        correlationId,
      ),
    );
  }

  @Get()
  @ApiOperation({ summary: 'List leases (a tenant sees its own)' })
  @Allow('operator', 'finance', 'tenant')
  list(@CallerPrincipal() caller: Principal, @Query('tenantId') tenantId?: string) {
    return this.queries.leases(actingTenant(caller, tenantId, { required: false }));
  }

  @Get(':leaseId')
  @ApiOperation({ summary: 'One lease' })
  @Allow('operator', 'finance', 'tenant')
  async get(@Param('leaseId') leaseId: string, @CallerPrincipal() caller: Principal) {
    const [lease] = await this.queries.leases(undefined, leaseId);
    if (!lease) throw new NotFoundException(`no lease ${leaseId}`);
    assertTenantAccess(caller, lease.tenantId, `lease ${leaseId}`);
    return lease;
  }
}
