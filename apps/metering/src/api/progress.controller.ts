import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '@fleetledger/platform';
import { DataSource } from 'typeorm';
import { inputWatermarkMs } from '../domain/closing';

/** Issue #22: metering's inputs' watermarks (per partition), its own closed-before, and their lag. */
@ApiTags('progress')
@Controller('metering/progress')
export class MeteringProgressController {
  constructor(private readonly dataSource: DataSource) {}

  @Get()
  @Allow('operator', 'finance', 'service')
  @ApiOperation({
    summary: "each input's watermark per partition and metering's own (closed-before), with their lag",
  })
  async progress() {
    const nowMs = Date.now();
    const rows = await this.dataSource.query<
      { input: string; partition: number; partitions: number; watermark: Date; source: string }[]
    >(
      `SELECT input, partition, partitions, watermark, source FROM metering.input_watermarks ORDER BY input, partition`,
    );
    const [progress] = await this.dataSource.query<{ closed_before: Date | null }[]>(
      `SELECT closed_before FROM metering.close_progress WHERE id = 1`,
    );
    const placements = rows.filter((r) => r.input === 'placements');
    const watermarkMs = inputWatermarkMs(
      placements.map((r) => ({
        partition: r.partition,
        partitions: r.partitions,
        watermarkMs: r.watermark.getTime(),
      })),
    );
    const closedBefore = progress?.closed_before ?? null;
    return {
      closedBefore: closedBefore?.toISOString() ?? null,
      lagMs: closedBefore ? nowMs - closedBefore.getTime() : null,
      inputs: [
        {
          input: 'placements',
          watermark: watermarkMs === null ? null : new Date(watermarkMs).toISOString(),
          lagMs: watermarkMs === null ? null : nowMs - watermarkMs,
          partitions: placements.map((r) => ({
            partition: r.partition,
            partitions: r.partitions,
            watermark: r.watermark.toISOString(),
            source: r.source,
          })),
        },
        // The node agents publish no watermark: telemetry is bounded by the lateness alone.
        { input: 'telemetry', watermark: null, lagMs: null, partitions: [] },
      ],
    };
  }
}
