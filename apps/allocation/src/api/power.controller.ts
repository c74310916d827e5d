import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '@fleetledger/platform';
import { AllocationEngine } from '../handlers/allocation-engine';

/**
 * Allocation's view of power (issue #15, 3): per site, hall and rack, the budget inventory set, the
 * draw allocation counts (idle draw of every commissioned node + the share of every allocated GPU:
 * contracts inventory/power.ts) and the headroom placements are admitted against.
 */
@ApiTags('power')
@Controller()
export class PowerController {
  constructor(private readonly engine: AllocationEngine) {}

  @Get('power')
  @ApiOperation({
    summary:
      'Power budget, draw (idle included) and headroom per site, hall and rack, as placement decisions count them',
  })
  @Allow('operator', 'finance')
  power(@Query('scope') scope?: string, @Query('id') id?: string) {
    return this.engine.read((state) =>
      state.view.power().filter((p) => (!scope || p.scope === scope) && (!id || p.id === id)),
    );
  }
}
