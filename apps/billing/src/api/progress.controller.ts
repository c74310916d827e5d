import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { CompletenessQueries } from '../queries/completeness.queries';

/**
 * Issue #22: how far billing's inputs are complete, as billing handled them: metering's watermark (usage) and
 * inventory's (the health events of SLA credits).
 */
@ApiTags('progress')
@Controller('progress')
export class ProgressController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly completeness: CompletenessQueries,
  ) {}

  @Get()
  @Allow('operator', 'finance', 'service')
  @ApiOperation({
    summary: "metering's and inventory's watermarks per partition as billing handled them, and their lag",
  })
  async progress() {
    const nowMs = Date.now();
    const inputs = [];
    for (const input of ['metering', 'inventory'] as const) {
      const { watermarkMs, marks } = await this.completeness.inputProgress(this.dataSource, input);
      inputs.push({
        input,
        watermark: watermarkMs === null ? null : new Date(watermarkMs).toISOString(),
        lagMs: watermarkMs === null ? null : nowMs - watermarkMs,
        partitions: marks.map((m) => ({
          partition: m.partition,
          partitions: m.partitions,
          watermark: new Date(m.watermarkMs).toISOString(),
        })),
      });
    }
    return { inputs };
  }
}
