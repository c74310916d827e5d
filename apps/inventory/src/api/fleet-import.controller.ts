import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CorrelationId, ServiceError } from '@fleetledger/platform';
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
      throw new ServiceError('invalid-fleet-file', parsed.errors.join('; '), HttpStatus.BAD_REQUEST);
    const summary = await importFleet(this.handler, parsed.fleet, {
      correlationId,
      occurredAt: new Date().toISOString(),
    });
    return { imported: summary.rejected === 0, ...summary };
  }
}
