import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { allocation, formatZodError, topicName } from '@fleetledger/contracts';
import { Allow } from '@fleetledger/platform';
import { v7 as uuidv7 } from 'uuid';
import { allocationErrors } from '../allocation-errors';
import { AllocationCommands, placeReply, releasedPlacementId } from '../handlers/allocation-commands';

/**
 * Kafka request/reply: `allocation.place` and `allocation.release` (with the deployment's topic
 * prefix, read when the process starts). Thin: validate, call the use case, map the outcome.
 */
/** Internal callers only: other services (and operators' tools) with a token in the `authorization` header. */
@Allow('service', 'operator')
@Controller()
export class AllocationKafkaController {
  constructor(private readonly commands: AllocationCommands) {}

  @MessagePattern(topicName(allocation.AllocationPatterns.place))
  async place(@Payload() payload: unknown): Promise<allocation.PlaceReply> {
    const parsed = allocation.placeRequestSchema.safeParse(payload);
    const workloadId = workloadIdOf(payload);
    if (!parsed.success)
      return { outcome: 'rejected', workloadId, reason: 'invalid', detail: formatZodError(parsed.error) };
    const { requestedAt, ...request } = parsed.data;
    try {
      const events = await this.commands.submit(request, requestedAt, uuidv7());
      return placeReply(request.workloadId, events);
    } catch (error) {
      if (allocationErrors.owns(error))
        return { outcome: 'rejected', workloadId, reason: error.code, detail: error.message };
      throw error;
    }
  }

  @MessagePattern(topicName(allocation.AllocationPatterns.release))
  async release(@Payload() payload: unknown): Promise<allocation.ReleaseReply> {
    const parsed = allocation.releaseRequestSchema.safeParse(payload);
    const workloadId = workloadIdOf(payload);
    if (!parsed.success)
      return { outcome: 'not-placed', workloadId, reason: 'invalid', detail: formatZodError(parsed.error) };
    try {
      const events = await this.commands.release(parsed.data.workloadId, parsed.data.requestedAt, uuidv7());
      return {
        outcome: 'released',
        workloadId,
        placementId: releasedPlacementId(workloadId, events),
      };
    } catch (error) {
      if (allocationErrors.owns(error))
        return { outcome: 'not-placed', workloadId, reason: error.code, detail: error.message };
      throw error;
    }
  }
}

/** The workload a request names, for the reply to a request that does not parse (empty when it names none). */
function workloadIdOf(payload: unknown): string {
  return typeof payload === 'object' && payload !== null && 'workloadId' in payload
    ? String(payload.workloadId)
    : '';
}
