import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { Role } from '@fleetledger/contracts';

export const ACCESS_METADATA = 'fleetledger:access';

export type AccessRule = { kind: 'public' } | { kind: 'roles'; roles: readonly Role[] };

/**
 * Declares who may call a route or a Kafka request: a caller needs one of `roles`. Put it on the
 * handler or on the controller class (the handler's declaration wins). Deny by default: the global
 * AuthGuard refuses every handler with no declaration.
 */
export const Allow = (...roles: [Role, ...Role[]]): MethodDecorator & ClassDecorator =>
  applyDecorators(
    SetMetadata(ACCESS_METADATA, { kind: 'roles', roles } satisfies AccessRule),
    // In the OpenAPI document: who may call each operation.
    ApiExtension('x-fleetledger-roles', roles),
  );

/** Health, metrics and API docs only: answered without a token. */
export const Public = (): MethodDecorator & ClassDecorator =>
  SetMetadata(ACCESS_METADATA, { kind: 'public' } satisfies AccessRule);
