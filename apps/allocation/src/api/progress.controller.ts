import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CorrelationId } from '@fleetledger/platform';
import { RejectedCommand } from '../handlers/allocation-engine';
import { toServiceError } from '../handlers/allocation-commands';
import { markersOf, WatermarkHeartbeat } from '../progress/watermark-heartbeat';
import { AdvanceWatermarkDto } from './dto';

/** Issue #22: allocation's watermark (how far its placement events are complete) and its lag. */
@ApiTags('progress')
@Controller('progress')
export class ProgressController {
  constructor(private readonly heartbeat: WatermarkHeartbeat) {}

  @Get()
  @ApiOperation({
    summary: "Allocation's published watermark per partition of its events topic, its lag and policy",
  })
  @Allow('operator', 'finance', 'service')
  progress() {
    return this.heartbeat.progress();
  }

  @Post('watermark')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Declare the placement ledger complete until `to` (never in the future): commands stamped before it are refused from then on',
  })
  @Allow('operator')
  async advance(@Body() body: AdvanceWatermarkDto, @CorrelationId() correlationId: string) {
    try {
      const events = await this.heartbeat.advanceTo(body.to, correlationId);
      return { watermark: body.to, markers: markersOf(events) };
    } catch (error) {
      if (error instanceof RejectedCommand) throw toServiceError(error.rejection);
      throw error;
    }
  }
}
