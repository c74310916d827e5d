import { createParamDecorator, ExecutionContext, HttpStatus } from '@nestjs/common';
import { Principal } from '@fleetledger/contracts';
import { ServiceError } from '../errors';
import { carrierOf, PRINCIPAL_KEY } from './auth.guard';
import { actFor } from './request-context';

/** The verified caller of the current request (a route with `@Allow(...)` always has one). */
export const CallerPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const principal = carrierOf(context).holder[PRINCIPAL_KEY];
    if (!principal) throw new ServiceError('unauthorized', 'no verified caller', HttpStatus.UNAUTHORIZED);
    return principal;
  },
);

/** True when the caller may act only as its own tenant (a tenant token, with no wider role). */
export function isTenantOnly(principal: Principal): boolean {
  return principal.roles.every((role) => role === 'tenant');
}

/**
 * The tenant a request acts for. A tenant's identity comes from its token, never from what it sends:
 * a tenant-only caller naming another tenant is refused (403 tenant-mismatch), naming none acts as
 * itself. Operators, finance and services act for the tenant they name (recorded on the events).
 * With `required: false` an unnamed tenant means "all tenants" for callers with a wider role.
 */
export function actingTenant(
  principal: Principal,
  requested: string | undefined,
  options: { required: boolean } = { required: true },
): string | undefined {
  if (isTenantOnly(principal)) {
    if (requested !== undefined && requested !== principal.tenantId)
      throw new ServiceError(
        'tenant-mismatch',
        `a token of tenant ${principal.tenantId} cannot act for tenant ${requested}`,
        HttpStatus.FORBIDDEN,
      );
    return principal.tenantId;
  }
  if (requested === undefined) {
    if (options.required)
      throw new ServiceError(
        'tenant-required',
        'name the tenant acted for (x-tenant-id header, or the tenant field of the request)',
        HttpStatus.BAD_REQUEST,
      );
    return undefined;
  }
  actFor(requested);
  return requested;
}

/**
 * Refuses a tenant-only caller access to a resource of another tenant (403, before anything is
 * written). Callers with a wider role pass; the tenant they acted for is recorded.
 */
export function assertTenantAccess(principal: Principal, resourceTenantId: string, what: string): void {
  if (isTenantOnly(principal) && principal.tenantId !== resourceTenantId)
    throw new ServiceError(
      'tenant-mismatch',
      `${what} belongs to another tenant than ${principal.tenantId}`,
      HttpStatus.FORBIDDEN,
    );
  if (!isTenantOnly(principal)) actFor(resourceTenantId);
}

const TENANT_PATTERN = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * The tenant acted for, from the `x-tenant-id` header (or its absence) checked against the caller:
 * see `actingTenant`. `@ActingTenant()` requires one; `@ActingTenant({ required: false })` lets wider
 * roles omit it to mean every tenant.
 */
export const ActingTenant = createParamDecorator(
  (options: { required: boolean } | undefined, context: ExecutionContext): string | undefined => {
    const principal = carrierOf(context).holder[PRINCIPAL_KEY];
    if (!principal) throw new ServiceError('unauthorized', 'no verified caller', HttpStatus.UNAUTHORIZED);
    const header = context.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers[
      'x-tenant-id'
    ];
    if (header !== undefined && (typeof header !== 'string' || !TENANT_PATTERN.test(header)))
      throw new ServiceError('invalid-tenant', 'x-tenant-id must be a tenant id', HttpStatus.BAD_REQUEST);
    return actingTenant(principal, header as string | undefined, options ?? { required: true });
  },
);
