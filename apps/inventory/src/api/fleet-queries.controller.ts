import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '@fleetledger/platform';
import { FleetQueries } from '../queries/fleet-queries';

@ApiTags('fleet queries')
/** The physical fleet is the operator's business (finance reads it for SLA and energy). */
@Allow('operator', 'finance')
@Controller()
export class FleetQueriesController {
  constructor(private readonly queries: FleetQueries) {}

  @Get('capacity')
  @ApiOperation({
    summary: 'GPUs per class by effective health; `available` = healthy (allocation decides what is free)',
  })
  capacity() {
    return this.queries.capacityByClass();
  }

  @Get('fleet/halls')
  @ApiOperation({ summary: 'GPUs per hall and class, by effective health' })
  fleetByHall() {
    return this.queries.fleetByHall();
  }

  @Get('fleet/halls/:hallId/racks')
  @ApiOperation({ summary: 'GPUs per rack of a hall, by effective health' })
  racksOfHall(@Param('hallId') hallId: string) {
    return this.queries.racksOfHall(hallId);
  }

  @Get('power/sites')
  @ApiOperation({ summary: 'Power cap, nominal draw and headroom (W) per site' })
  siteHeadroom() {
    return this.queries.siteHeadroom();
  }

  @Get('power/halls')
  @ApiOperation({ summary: 'Power cap, nominal draw and headroom (W) per hall' })
  hallHeadroom() {
    return this.queries.hallHeadroom();
  }

  @Get('power/halls/:hallId/racks')
  @ApiOperation({ summary: 'Power budget, nominal draw and headroom (W) per rack of a hall' })
  rackHeadroom(@Param('hallId') hallId: string) {
    return this.queries.rackHeadroom(hallId);
  }

  @Get('gpus/:gpuId')
  @ApiOperation({ summary: 'One GPU: class, node, rack, hall, NVLink domain, health' })
  async gpu(@Param('gpuId') gpuId: string) {
    const gpu = await this.queries.gpu(gpuId);
    if (!gpu) throw new NotFoundException(`no GPU ${gpuId}`);
    return gpu;
  }
}
