import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CorrelationId } from '@fleetledger/platform';
import { inventoryErrors } from '../inventory-errors';
import { createZodDto } from 'nestjs-zod';
import { fleetFileSchema, parseFleetDescription } from '../domain/fleet-description';
import { InventoryCommandHandler } from '../handlers/inventory-command.handler';
import { importFleet } from '../import/fleet-import';

class FleetFileDto extends createZodDto(fleetFileSchema) {}

@ApiTags('fleet commands')
@Allow('operator')
@Controller('fleet')
export class FleetImportController {
  constructor(private readonly handler: InventoryCommandHandler) {}

  @Post('import')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Import a fleet description (JSON body; same format as the import CLI reads). Idempotent: a re-run appends nothing',
  })
  async importFleet(@Body() body: FleetFileDto, @CorrelationId() correlationId: string) {
    const parsed = parseFleetDescription(JSON.stringify(body), 'json');
    if (!parsed.ok)
      throw inventoryErrors.error({ reason: 'invalid-fleet-file', detail: parsed.errors.join('; ') });
    const summary = await importFleet(this.handler, parsed.fleet, {
      correlationId,
      occurredAt: new Date().toISOString(),
    });
    return { imported: summary.rejected === 0, ...summary };
  }
}
