import { CanActivate, ExecutionContext, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { KafkaContext, RpcException } from '@nestjs/microservices';
import { Principal } from '@fleetledger/contracts';
import { ServiceError, toErrorBody } from '../errors';
import { ACCESS_METADATA, AccessRule } from './access.decorator';
import { TokenRefusedError, TokenVerifier } from './token-verifier';

/** Where the verified caller is kept on an HTTP request or a Kafka message. */
export const PRINCIPAL_KEY = 'fleetledgerPrincipal';

/** The Kafka header that carries a request's bearer token (request/reply patterns). */
export const KAFKA_AUTHORIZATION_HEADER = 'authorization';

export interface AuthenticatedRequest {
  headers: Record<string, string | string[] | undefined>;
  [PRINCIPAL_KEY]?: Principal;
}

/**
 * The one global guard (deny by default): a handler without `@Allow(...)` or `@Public()` is refused;
 * otherwise the bearer token (HTTP `Authorization`, or the Kafka request's `authorization` header) is
 * verified and the caller must hold one of the declared roles. 401 = who are you, 403 = you may not.
 * The verified principal is attached to the request for the request-context interceptor.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TokenVerifier) private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return await this.check(context);
    } catch (error) {
      if (context.getType() === 'rpc' && error instanceof ServiceError)
        throw new RpcException(toErrorBody(error));
      throw error;
    }
  }

  private async check(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!rule)
      throw new ServiceError(
        'access-not-declared',
        'this route declares no access rule, so nobody may call it',
        HttpStatus.FORBIDDEN,
      );
    if (rule.kind === 'public') return true;

    const carrier = carrierOf(context);
    let principal: Principal;
    try {
      principal = await this.verifier.verify(bearerToken(carrier.authorization));
    } catch (error) {
      if (error instanceof TokenRefusedError)
        throw new ServiceError('unauthorized', error.message, HttpStatus.UNAUTHORIZED, {
          reason: error.reason,
        });
      throw error;
    }
    if (!rule.roles.some((role) => principal.roles.includes(role)))
      throw new ServiceError(
        'role-required',
        `this needs one of the roles ${rule.roles.join(', ')}; the caller has ${principal.roles.join(', ') || 'none'}`,
        HttpStatus.FORBIDDEN,
        { required: rule.roles, held: principal.roles },
      );
    carrier.holder[PRINCIPAL_KEY] = principal;
    return true;
  }
}

/** The object a request's principal is kept on (HTTP request, Kafka message) and its Authorization value. */
export function carrierOf(context: ExecutionContext): {
  holder: { [PRINCIPAL_KEY]?: Principal };
  authorization: string | undefined;
} {
  if (context.getType() === 'rpc') {
    const message = context.switchToRpc().getContext<KafkaContext>().getMessage() as unknown as {
      headers?: Record<string, Buffer | string | undefined>;
      [PRINCIPAL_KEY]?: Principal;
    };
    return { holder: message, authorization: message.headers?.[KAFKA_AUTHORIZATION_HEADER]?.toString() };
  }
  const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
  const header = request.headers.authorization;
  return { holder: request, authorization: Array.isArray(header) ? header[0] : header };
}

function bearerToken(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  if (!match)
    throw new TokenRefusedError('malformed-token', 'the Authorization header must be "Bearer <jwt>"');
  return match[1];
}
