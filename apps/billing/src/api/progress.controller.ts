import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { CompletenessQueries } from '../queries/completeness.queries';

/** Issue #22: how far billing's usage input (metering's watermark, as billing handled it) is complete. */
@ApiTags('progress')
@Controller('progress')
export class ProgressController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly completeness: CompletenessQueries,
  ) {}

  @Get()
  @Allow('operator', 'finance', 'service')
  @ApiOperation({ summary: "metering's watermark per partition as billing handled it, and its lag" })
  async progress() {
    const nowMs = Date.now();
    const { watermarkMs, marks } = await this.completeness.meteringProgress(this.dataSource);
    return {
      inputs: [
        {
          input: 'metering',
          watermark: watermarkMs === null ? null : new Date(watermarkMs).toISOString(),
          lagMs: watermarkMs === null ? null : nowMs - watermarkMs,
          partitions: marks.map((m) => ({
            partition: m.partition,
            partitions: m.partitions,
            watermark: new Date(m.watermarkMs).toISOString(),
          })),
        },
      ],
    };
  }
}
