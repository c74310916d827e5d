import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { carrierOf, PRINCIPAL_KEY } from './auth.guard';
import { runAs } from './request-context';

/**
 * Runs each handler in the request context of the principal the AuthGuard verified, so the events
 * it appends record who caused them. Public routes run with no principal (they append nothing).
 */
@Injectable()
export class RequestContextInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const principal = carrierOf(context).holder[PRINCIPAL_KEY];
    if (!principal) return next.handle();
    return new Observable((subscriber) => runAs(principal, () => next.handle().subscribe(subscriber)));
  }
}
