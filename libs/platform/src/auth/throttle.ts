import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { PRINCIPAL_KEY } from './auth.guard';
import type { AuthenticatedRequest } from './auth.guard';

/**
 * Per-principal rate limiting (@nestjs/throttler): the budget belongs to the verified subject, so
 * one noisy tenant or agent cannot exhaust another's; unauthenticated requests are counted by
 * address. Answers 429 with Retry-After. Kafka requests are not throttled here (the broker's quotas
 * are the place for that).
 */
@Injectable()
export class PrincipalThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const principal = (request as unknown as AuthenticatedRequest)[PRINCIPAL_KEY];
    if (principal) return `${principal.issuer}|${principal.subject}`;
    return `ip|${String(request.ip ?? 'unknown')}`;
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    return super.canActivate(context);
  }
}
