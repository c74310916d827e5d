import { Body, Controller, Get, HttpCode, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Principal } from '@fleetledger/contracts';
import {
  actingTenant,
  Allow,
  assertTenantAccess,
  CallerPrincipal,
  CorrelationId,
} from '@fleetledger/platform';
import { AllocationCommands, placeReply, releasedPlacementId } from '../handlers/allocation-commands';
import { AllocationQueries } from '../handlers/allocation-queries';
import { PlaceDto, ReleaseDto, WithdrawDto } from './dto';

@ApiTags('workloads')
@Controller()
export class WorkloadsController {
  constructor(
    private readonly commands: AllocationCommands,
    private readonly queries: AllocationQueries,
  ) {}

  /** Submit a workload: 201 with the outcome (placed, queued or rejected, with its reason). */
  @Post('workloads')
  @ApiOperation({
    summary:
      'Submit a workload: placed, queued or rejected, with the reason (and the routing reason when placed)',
  })
  @Allow('tenant', 'operator')
  async submit(
    @Body() body: PlaceDto,
    @CorrelationId() correlationId: string,
    @CallerPrincipal() caller: Principal,
  ) {
    const { requestedAt, ...request } = body;
    actingTenant(caller, request.tenantId);
    const events = await this.commands.submit(request, requestedAt, correlationId);
    return placeReply(request.workloadId, events);
  }

  @Post('workloads/:workloadId/release')
  @ApiOperation({ summary: 'Release a placed workload; the queue is re-driven' })
  @Allow('tenant', 'operator')
  @HttpCode(200)
  async release(
    @Param('workloadId') workloadId: string,
    @Body() body: ReleaseDto,
    @CorrelationId() correlationId: string,
    @CallerPrincipal() caller: Principal,
  ) {
    await this.checkOwner(caller, workloadId);
    const events = await this.commands.release(workloadId, body.requestedAt, correlationId);
    return {
      outcome: 'released',
      workloadId,
      placementId: releasedPlacementId(workloadId, events),
      followUps: events.length - 1,
    };
  }

  /** Takes a queued workload off the queue (409 not-queued when it is not: a placed one is released). */
  @Post('workloads/:workloadId/withdraw')
  @ApiOperation({ summary: 'Take a queued workload off the queue' })
  @Allow('tenant', 'operator')
  @HttpCode(200)
  async withdraw(
    @Param('workloadId') workloadId: string,
    @Body() body: WithdrawDto,
    @CorrelationId() correlationId: string,
    @CallerPrincipal() caller: Principal,
  ) {
    await this.checkOwner(caller, workloadId);
    await this.commands.withdraw(workloadId, body.requestedAt, body.reason, correlationId);
    return { outcome: 'withdrawn', workloadId };
  }

  @Get('workloads/:workloadId')
  @ApiOperation({
    summary:
      'A workload: status, current reason, queue position and its history (placed, queued, preempted, evicted, ... with times and reasons)',
  })
  @Allow('tenant', 'operator')
  async workload(@Param('workloadId') workloadId: string, @CallerPrincipal() caller: Principal) {
    const found = await this.queries.workload(workloadId);
    if (!found) throw new NotFoundException(`no workload ${workloadId}`);
    assertTenantAccess(caller, found.tenantId, `workload ${workloadId}`);
    return found;
  }

  @Get('queue')
  @ApiOperation({
    summary: 'The queue in the order it is tried, with positions and what each workload waits for',
  })
  @Allow('operator')
  queue() {
    return this.queries.queue();
  }

  /** A tenant sees its own placements; operators and finance any tenant's (or all). */
  @Get('placements')
  @ApiOperation({ summary: 'Current placements, with the class the policy asked for and the routing reason' })
  @Allow('tenant', 'operator', 'finance')
  placements(
    @CallerPrincipal() caller: Principal,
    @Query('tenantId') tenantId?: string,
    @Query('gpuClass') gpuClass?: string,
    @Query('nodeId') nodeId?: string,
  ) {
    return this.queries.placements({
      tenantId: actingTenant(caller, tenantId, { required: false }),
      gpuClass,
      nodeId,
    });
  }

  /** Allocated / healthy GPUs per class (from the projections). */
  @Get('utilization')
  @ApiOperation({ summary: 'Allocated and healthy GPUs per class' })
  @Allow('operator', 'finance')
  utilization() {
    return this.queries.utilization();
  }

  /**
   * A tenant may release or withdraw only its own workload: refused (403) before anything is
   * written. An unknown workload goes on to the command, which answers why it cannot act.
   */
  private async checkOwner(caller: Principal, workloadId: string): Promise<void> {
    const found = await this.queries.workload(workloadId);
    if (found) assertTenantAccess(caller, found.tenantId, `workload ${workloadId}`);
    else if (caller.roles.every((role) => role === 'tenant'))
      throw new NotFoundException(`no workload ${workloadId}`);
  }
}
