import { AsyncLocalStorage } from 'node:async_hooks';
import { Principal } from '@fleetledger/contracts';

interface RequestContext {
  principal: Principal;
}

const storage = new AsyncLocalStorage<RequestContext>();

/**
 * The principal on whose behalf the current code runs: the verified caller of an HTTP or Kafka
 * request, or the service itself inside a consumer or a schedule. The event store records it on
 * every event it appends (see PlatformModule), so no handler has to pass it along by hand.
 */
export function currentPrincipal(): Principal | undefined {
  return storage.getStore()?.principal;
}

/** Runs `work` (and everything it awaits) as `principal`. */
export function runAs<T>(principal: Principal, work: () => T): T {
  return storage.run({ principal }, work);
}

/**
 * Narrows the current principal to the tenant it acts for (an operator acting for `acme`), so the
 * events the request appends record both who acted and for whom.
 */
export function actFor(tenantId: string): void {
  const context = storage.getStore();
  if (context) context.principal = { ...context.principal, tenantId };
}
