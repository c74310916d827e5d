import { Body, Controller, Get, HttpCode, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CorrelationId } from '@fleetledger/platform';
import { AllocationCommands, placeReply } from '../handlers/allocation-commands';
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
  async submit(@Body() body: PlaceDto, @CorrelationId() correlationId: string) {
    const { requestedAt, ...request } = body;
    const events = await this.commands.submit(
      request,
      requestedAt ?? new Date().toISOString(),
      correlationId,
    );
    return placeReply(request.workloadId, events);
  }

  @Post('workloads/:workloadId/release')
  @HttpCode(200)
  async release(
    @Param('workloadId') workloadId: string,
    @Body() body: ReleaseDto,
    @CorrelationId() correlationId: string,
  ) {
    const events = await this.commands.release(
      workloadId,
      body.requestedAt ?? new Date().toISOString(),
      correlationId,
    );
    return {
      outcome: 'released',
      workloadId,
      placementId: (events[0].payload as { placementId: string }).placementId,
      followUps: events.length - 1,
    };
  }

  /** Takes a queued workload off the queue (409 not-queued when it is not: a placed one is released). */
  @Post('workloads/:workloadId/withdraw')
  @HttpCode(200)
  async withdraw(
    @Param('workloadId') workloadId: string,
    @Body() body: WithdrawDto,
    @CorrelationId() correlationId: string,
  ) {
    await this.commands.withdraw(
      workloadId,
      body.requestedAt ?? new Date().toISOString(),
      body.reason,
      correlationId,
    );
    return { outcome: 'withdrawn', workloadId };
  }

  @Get('workloads/:workloadId')
  async workload(@Param('workloadId') workloadId: string) {
    const found = await this.queries.workload(workloadId);
    if (!found) throw new NotFoundException(`no workload ${workloadId}`);
    return found;
  }

  @Get('queue')
  queue() {
    return this.queries.queue();
  }

  @Get('placements')
  placements(
    @Query('tenantId') tenantId?: string,
    @Query('gpuClass') gpuClass?: string,
    @Query('nodeId') nodeId?: string,
  ) {
    return this.queries.placements({ tenantId, gpuClass, nodeId });
  }

  /** Allocated / healthy GPUs per class (from the projections). */
  @Get('utilization')
  utilization() {
    return this.queries.utilization();
  }
}
