import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { gpuClassSchema, TelemetrySample, telemetryBatchSchema } from '@fleetledger/contracts/metering';
import { actingTenant, Allow, assertTenantAccess, CallerPrincipal } from '@fleetledger/platform';
import { Principal } from '@fleetledger/contracts';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { SampleIngestor } from '../ingestion/sample-ingestor';
import { meteringErrors } from '../metering-errors';
import { parseSample } from '../ingestion/sample-parsing';
import { UsageQueries } from '../queries/usage.queries';
import { SampleArchive } from '../retention/sample-archive';
import { WindowCloser } from '../windows/window-closer';

class SampleBatchDto extends createZodDto(telemetryBatchSchema) {}
class ArchiveSamplesDto extends createZodDto(
  z.object({ before: z.iso.date().describe('first day kept (YYYY-MM-DD); earlier days are archived') }),
) {}
class CloseWindowsDto extends createZodDto(z.object({ asOf: z.iso.datetime({ offset: true }) })) {}
const period = {
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
};
class UsageQueryDto extends createZodDto(
  z.object({
    tenantId: z.string().min(1).optional(),
    leaseId: z.string().min(1).optional(),
    gpuClass: gpuClassSchema.optional(),
    ...period,
  }),
) {}
class WorkloadUsageQueryDto extends createZodDto(
  z.object({
    asOf: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('count a running interval up to this instant (without it, its allocated time is null)'),
  }),
) {}
class UtilizationQueryDto extends createZodDto(
  z.object({ gpuClass: gpuClassSchema.optional(), ...period }),
) {}

@Controller('metering')
export class MeteringController {
  constructor(
    private readonly ingestor: SampleIngestor,
    private readonly closer: WindowCloser,
    private readonly queries: UsageQueries,
    private readonly archiveService: SampleArchive,
  ) {}

  /**
   * Batch ingestion for agents that cannot speak Kafka. Each invalid item is rejected with its
   * reason (the rest of the batch is still accepted); duplicates are reported, never counted twice.
   */
  @Post('samples')
  @Allow('telemetry-agent')
  @HttpCode(200)
  async ingest(@Body() body: SampleBatchDto) {
    const valid: TelemetrySample[] = [];
    const rejected: { index: number; reason: string; detail: string }[] = [];
    const parsedOk: boolean[] = [];
    body.samples.forEach((item, index) => {
      const parsed = parseSample(item);
      parsedOk.push(parsed.ok);
      if (parsed.ok) valid.push(parsed.sample);
      else rejected.push({ index, reason: parsed.reason, detail: parsed.detail });
    });
    const validIndexes: number[] = [];
    body.samples.forEach((item, index) => {
      if (parsedOk[index]) validIndexes.push(index);
    });
    const result =
      valid.length > 0
        ? await this.ingestor.ingest(valid, 'http')
        : { accepted: 0, duplicates: 0, unattributed: 0, beyondRetention: [] };
    for (const index of result.beyondRetention)
      rejected.push({
        index: validIndexes[index],
        reason: 'beyond-retention',
        detail: `the day of ${valid[index].sampledAt} is archived`,
      });
    rejected.sort((a, b) => a.index - b.index);
    return {
      accepted: result.accepted,
      duplicates: result.duplicates,
      unattributed: result.unattributed,
      rejected,
    };
  }

  /**
   * Operators: detaches the sample partitions of the days before `before` (they stay as tables to
   * dump and drop) and refuses samples for those days from then on (`beyond-retention`).
   */
  @Post('samples/archive')
  @Allow('operator')
  @HttpCode(200)
  async archive(@Body() body: ArchiveSamplesDto) {
    return this.archiveService.archiveBefore(body.before, Date.now());
  }

  /** Closes due windows as of an instant (operators, tests); the timer does the same on the wall clock. */
  @Post('windows/close')
  @Allow('operator')
  @HttpCode(200)
  async close(@Body() body: CloseWindowsDto) {
    return this.closer.close(Date.parse(body.asOf));
  }

  /** Where every accepted sample stands: rated, or visibly pending and why. */
  @Get('samples/pending')
  @Allow('operator', 'finance')
  async pending() {
    return this.queries.pending();
  }

  /** A tenant sees only its own usage; operators and finance any tenant's (or all). */
  @Get('usage')
  @Allow('tenant', 'operator', 'finance')
  async usage(@Query() query: UsageQueryDto, @CallerPrincipal() caller: Principal) {
    const tenantId = actingTenant(caller, query.tenantId, { required: false });
    return this.queries.usage({ ...query, tenantId });
  }

  /**
   * Usage of one workload per interval (each placement: GPUs, start and end, allocated and busy GPU-seconds,
   * energy, the allocation events behind it). A tenant sees only its own workloads (403 otherwise).
   */
  @Get('workloads/:workloadId/usage')
  @Allow('tenant', 'operator', 'finance')
  async workloadUsage(
    @Param('workloadId') workloadId: string,
    @Query() query: WorkloadUsageQueryDto,
    @CallerPrincipal() caller: Principal,
  ) {
    const usage = await this.queries.workloadUsage(
      workloadId,
      query.asOf === undefined ? undefined : Date.parse(query.asOf),
    );
    if (!usage)
      throw meteringErrors.error({
        reason: 'workload-not-found',
        detail: `no placement of workload ${workloadId} is known`,
      });
    assertTenantAccess(caller, usage.tenantId, `workload ${workloadId}`);
    return usage;
  }

  @Get('utilization')
  @Allow('operator', 'finance')
  async utilization(@Query() query: UtilizationQueryDto) {
    return this.queries.utilization(query);
  }
}
