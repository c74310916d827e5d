import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { EventEnvelope } from '@fleetledger/contracts';
import { Allow, CorrelationId } from '@fleetledger/platform';
import { createZodDto, ZodValidationException } from 'nestjs-zod';
import { z } from 'zod';
import {
  changePowerBudgetSchema,
  commissionNodesSchema,
  decommissionNodeSchema,
  drainNodeSchema,
  drainRackSchema,
  InventoryCommand,
  registerHallSchema,
  registerRackSchema,
  registerSiteSchema,
  reportGpuHealthSchema,
} from '../domain/commands';
import { InventoryCommandHandler } from '../handlers/inventory-command.handler';

/** Every command may say when the change happened in the fleet; by default, when the request arrived. */
const when = z.object({ occurredAt: z.iso.datetime({ offset: true }).optional() });

class RegisterSiteDto extends createZodDto(registerSiteSchema.extend(when.shape)) {}
class RegisterHallDto extends createZodDto(registerHallSchema.extend(when.shape)) {}
class RegisterRackDto extends createZodDto(registerRackSchema.extend(when.shape)) {}
class CommissionNodesDto extends createZodDto(
  commissionNodesSchema.omit({ rackId: true }).extend(when.shape),
) {}
class ReportGpuHealthDto extends createZodDto(
  reportGpuHealthSchema.omit({ gpuId: true }).extend(when.shape),
) {}
class ReasonDto extends createZodDto(drainNodeSchema.omit({ nodeId: true }).extend(when.shape)) {}
class ChangePowerBudgetDto extends createZodDto(changePowerBudgetSchema.extend(when.shape)) {}

export interface CommandResponse {
  /** The events the command caused; empty when the fleet already was as asked (a safe retry). */
  events: Pick<EventEnvelope, 'eventId' | 'type' | 'streamId' | 'streamVersion' | 'globalPosition'>[];
}

@ApiTags('fleet commands')
@ApiNotFoundResponse({
  description: 'unknown-site | unknown-hall | unknown-rack | unknown-node | unknown-gpu',
})
@ApiConflictResponse({
  description: 'already-registered | gpu-in-two-nodes | node-decommissioned | node-not-drained',
})
@ApiUnprocessableEntityResponse({
  description:
    'rack-power-budget-exceeded | hall-power-cap-exceeded | site-power-cap-exceeded | budget-below-draw | invalid-node-shape | rack-full',
})
/** Operators change the fleet; node agents may also report GPU health. */
@Allow('operator')
@Controller()
export class FleetCommandsController {
  constructor(private readonly handler: InventoryCommandHandler) {}

  @Post('sites')
  @HttpCode(200)
  @ApiOperation({ summary: 'Register a site with its power cap (W)' })
  registerSite(@Body() body: RegisterSiteDto, @CorrelationId() correlationId: string) {
    const { occurredAt, ...command } = body;
    return this.run({ kind: 'register-site', body: command }, correlationId, occurredAt);
  }

  @Post('halls')
  @HttpCode(200)
  @ApiOperation({ summary: 'Register a hall of a site with its power cap (W)' })
  registerHall(@Body() body: RegisterHallDto, @CorrelationId() correlationId: string) {
    const { occurredAt, ...command } = body;
    return this.run({ kind: 'register-hall', body: command }, correlationId, occurredAt);
  }

  @Post('racks')
  @HttpCode(200)
  @ApiOperation({ summary: 'Register a rack of a hall: its GPU class and power budget (W)' })
  registerRack(@Body() body: RegisterRackDto, @CorrelationId() correlationId: string) {
    const { occurredAt, ...command } = body;
    return this.run({ kind: 'register-rack', body: command }, correlationId, occurredAt);
  }

  @Post('racks/:rackId/nodes')
  @HttpCode(200)
  @ApiOperation({ summary: 'Commission nodes (with their GPUs) into a rack, in bulk' })
  commissionNodes(
    @Param('rackId') rackId: string,
    @Body() body: CommissionNodesDto,
    @CorrelationId() correlationId: string,
  ) {
    const { occurredAt, ...rest } = body;
    return this.run(
      { kind: 'commission-nodes', body: parse(commissionNodesSchema, { ...rest, rackId }) },
      correlationId,
      occurredAt,
    );
  }

  @Post('gpus/:gpuId/health')
  @Allow('operator', 'telemetry-agent')
  @HttpCode(200)
  @ApiOperation({ summary: 'Report the health of a GPU (healthy, degraded, failed)' })
  reportHealth(
    @Param('gpuId') gpuId: string,
    @Body() body: ReportGpuHealthDto,
    @CorrelationId() correlationId: string,
  ) {
    const { occurredAt, ...rest } = body;
    return this.run(
      { kind: 'report-gpu-health', body: parse(reportGpuHealthSchema, { ...rest, gpuId }) },
      correlationId,
      occurredAt,
    );
  }

  @Post('nodes/:nodeId/drain')
  @HttpCode(200)
  @ApiOperation({ summary: 'Drain a node for maintenance: its GPUs take no new work' })
  drainNode(
    @Param('nodeId') nodeId: string,
    @Body() body: ReasonDto,
    @CorrelationId() correlationId: string,
  ) {
    return this.run(
      { kind: 'drain-node', body: parse(drainNodeSchema, { reason: body.reason, nodeId }) },
      correlationId,
      body.occurredAt,
    );
  }

  @Post('nodes/:nodeId/undrain')
  @HttpCode(200)
  @ApiOperation({ summary: 'Return a drained node to service' })
  undrainNode(
    @Param('nodeId') nodeId: string,
    @Body() body: ReasonDto,
    @CorrelationId() correlationId: string,
  ) {
    return this.run(
      { kind: 'undrain-node', body: parse(drainNodeSchema, { reason: body.reason, nodeId }) },
      correlationId,
      body.occurredAt,
    );
  }

  @Post('nodes/:nodeId/decommission')
  @HttpCode(200)
  @ApiOperation({ summary: 'Decommission a drained node for good (its power is released)' })
  decommissionNode(
    @Param('nodeId') nodeId: string,
    @Body() body: ReasonDto,
    @CorrelationId() correlationId: string,
  ) {
    return this.run(
      { kind: 'decommission-node', body: parse(decommissionNodeSchema, { reason: body.reason, nodeId }) },
      correlationId,
      body.occurredAt,
    );
  }

  @Post('racks/:rackId/drain')
  @HttpCode(200)
  @ApiOperation({ summary: 'Drain a whole rack for maintenance' })
  drainRack(
    @Param('rackId') rackId: string,
    @Body() body: ReasonDto,
    @CorrelationId() correlationId: string,
  ) {
    return this.run(
      { kind: 'drain-rack', body: parse(drainRackSchema, { reason: body.reason, rackId }) },
      correlationId,
      body.occurredAt,
    );
  }

  @Post('racks/:rackId/undrain')
  @HttpCode(200)
  @ApiOperation({ summary: 'Return a drained rack to service' })
  undrainRack(
    @Param('rackId') rackId: string,
    @Body() body: ReasonDto,
    @CorrelationId() correlationId: string,
  ) {
    return this.run(
      { kind: 'undrain-rack', body: parse(drainRackSchema, { reason: body.reason, rackId }) },
      correlationId,
      body.occurredAt,
    );
  }

  @Post('power-budgets')
  @HttpCode(200)
  @ApiOperation({ summary: 'Change the power budget (W) of a site, hall or rack' })
  changePowerBudget(@Body() body: ChangePowerBudgetDto, @CorrelationId() correlationId: string) {
    const { occurredAt, ...command } = body;
    return this.run({ kind: 'change-power-budget', body: command }, correlationId, occurredAt);
  }

  private async run(
    command: InventoryCommand,
    correlationId: string,
    occurredAt?: string,
  ): Promise<CommandResponse> {
    const events = await this.handler.execute(command, {
      correlationId,
      occurredAt: occurredAt ?? new Date().toISOString(),
    });
    return {
      events: events.map(({ eventId, type, streamId, streamVersion, globalPosition }) => ({
        eventId,
        type,
        streamId,
        streamVersion,
        globalPosition,
      })),
    };
  }
}

/** Validates a command whose id came from the path: a malformed id is a 400 like any malformed body. */
function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ZodValidationException(parsed.error);
  return parsed.data;
}
