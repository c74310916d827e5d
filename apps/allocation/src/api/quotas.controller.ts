import { Body, Controller, Get, Param, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { allocation, payloadsOf, Principal } from '@fleetledger/contracts';
import { actingTenant, Allow, CallerPrincipal, CorrelationId } from '@fleetledger/platform';
import { allocationErrors } from '../allocation-errors';
import { AllocationCommands } from '../handlers/allocation-commands';
import { AllocationQueries } from '../handlers/allocation-queries';
import { ChangeQuotaDto, ChangeRoutesDto } from './dto';

const now = () => new Date().toISOString();

@ApiTags('quotas')
@Controller()
export class QuotasController {
  constructor(
    private readonly commands: AllocationCommands,
    private readonly queries: AllocationQueries,
  ) {}

  /** Set or multiply (x2, x15) one quota; the change is an event with its reason and author. */
  @Post('quotas/:tenantId/:gpuClass/:workloadClass')
  @ApiOperation({ summary: 'Set or multiply (x2) one quota with a reason; queued work is re-driven' })
  @Allow('operator')
  async change(
    @Param('tenantId') tenantId: string,
    @Param('gpuClass') gpuClassParam: string,
    @Param('workloadClass') workloadClassParam: string,
    @Body() body: ChangeQuotaDto,
    @CorrelationId() correlationId: string,
    @CallerPrincipal() caller: Principal,
  ) {
    actingTenant(caller, tenantId);
    const gpuClass = allocation.gpuClassSchema.safeParse(gpuClassParam);
    const workloadClass = allocation.workloadClassSchema.safeParse(workloadClassParam);
    if (!gpuClass.success || !workloadClass.success)
      throw allocationErrors.error({
        reason: 'unknown-class',
        detail: `unknown class ${gpuClassParam}/${workloadClassParam}`,
      });
    const events = await this.commands.quota(
      {
        tenantId,
        gpuClass: gpuClass.data,
        workloadClass: workloadClass.data,
        change: body.change,
        reason: body.reason,
        author: body.author,
        at: body.at ?? now(),
      },
      correlationId,
    );
    return events.map((e) => e.payload)[0];
  }

  @Get('quotas/:tenantId')
  @ApiOperation({ summary: "A tenant's quotas per GPU class and workload class" })
  @Allow('operator', 'finance', 'tenant')
  quotas(@Param('tenantId') tenantId: string, @CallerPrincipal() caller: Principal) {
    return this.queries.quotas(actingTenant(caller, tenantId)!);
  }

  @Get('quotas/:tenantId/history')
  @ApiOperation({ summary: 'Every quota change of a tenant, with reason and author' })
  @Allow('operator', 'finance', 'tenant')
  history(@Param('tenantId') tenantId: string, @CallerPrincipal() caller: Principal) {
    return this.queries.quotaHistory(actingTenant(caller, tenantId)!);
  }

  /**
   * Sets the routing policy. Putting the policy already in force (the default included) changes
   * nothing and answers 200 with `changed: false`: a PUT is idempotent.
   */
  @Put('routing-policy')
  @ApiOperation({
    summary:
      'Set the routing policy (ordered GPU classes per workload class); the policy in force again is 200 changed:false',
  })
  @Allow('operator')
  async changeRoutes(@Body() body: ChangeRoutesDto, @CorrelationId() correlationId: string) {
    try {
      const events = await this.commands.routing(
        { routes: body.routes, reason: body.reason, author: body.author, at: body.at ?? now() },
        correlationId,
      );
      return { changed: true, ...payloadsOf(allocation.RoutingPolicyChanged, events)[0] };
    } catch (error) {
      if (allocationErrors.owns(error) && error.code === 'unchanged')
        return { changed: false, ...(await this.queries.routes()) };
      throw error;
    }
  }

  @Get('routing-policy')
  @ApiOperation({ summary: 'The routing policy in force (the default from DESIGN.md until one is set)' })
  @Allow('operator', 'finance', 'tenant')
  routes() {
    return this.queries.routes();
  }
}
