import { Body, Controller, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { billing } from '@fleetledger/contracts';
import { Allow, CorrelationId } from '@fleetledger/platform';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { RatePlanHandler } from '../handlers/rate-plan.handler';

class PublishRatePlanDto extends createZodDto(
  z.object({ plan: billing.RatePlanPublished.schema, publishedAt: z.iso.datetime({ offset: true }) }),
) {}

/** Internal (finance): publishes rate plan versions. Versions are never edited; a change is a new version. */
@ApiTags('rate-plans')
@Controller('rate-plans')
export class RatePlansController {
  constructor(private readonly handler: RatePlanHandler) {}

  @Post()
  @Allow('finance')
  @ApiOperation({ summary: 'publish the next version of a rate plan' })
  async publish(@Body() body: PublishRatePlanDto, @CorrelationId() correlationId: string) {
    const event = await this.handler.publish(body.plan, body.publishedAt, { correlationId });
    return { eventId: event.eventId, ratePlanId: body.plan.ratePlanId, version: body.plan.version };
  }
}
