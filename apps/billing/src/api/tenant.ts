import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { ServiceError } from '@fleetledger/platform';

/** The caller's tenant, from the `x-tenant-id` header (set by the gateway that authenticated the caller). */
export const TenantId = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const header = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers[
    'x-tenant-id'
  ];
  if (typeof header !== 'string' || !/^[A-Za-z0-9._-]{1,200}$/.test(header)) {
    throw new ServiceError('tenant-required', 'send the caller tenant in the x-tenant-id header', 400);
  }
  return header;
});
