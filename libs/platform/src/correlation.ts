import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { v7 as uuidv7 } from 'uuid';

/**
 * The request's correlation id: the caller's `x-correlation-id`, or the id the logger gave the request.
 * Handlers put it on every event they append, and consumers carry it on (DESIGN.md section 3).
 */
export const CorrelationId = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const request = context.switchToHttp().getRequest<{ id?: unknown; headers: Record<string, unknown> }>();
  const header = request.headers['x-correlation-id'];
  if (typeof header === 'string' && header.length > 0) return header;
  return typeof request.id === 'string' ? request.id : uuidv7();
});
