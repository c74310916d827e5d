/**
 * The scenario's HTTP client: every call carries a bearer token of the role that call needs (operator for
 * inventory and allocation commands, telemetry-agent for samples, finance for billing), as any other caller's
 * would. A 429 is waited out (Retry-After) and retried; every other status is the caller's to judge.
 */
export type ServiceName = 'inventory' | 'allocation' | 'metering' | 'billing';
export type CallerRole = 'operator' | 'finance' | 'telemetry-agent';

export interface Reply<T = unknown> {
  status: number;
  body: T;
  durationMs: number;
}

export class ScenarioError extends Error {}

export class ServiceClient {
  constructor(
    readonly urls: Record<ServiceName, string>,
    private readonly tokens: Record<CallerRole, string>,
  ) {}

  async call<T = unknown>(
    service: ServiceName,
    as: CallerRole,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      const response = await fetch(`${this.urls[service]}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.tokens[as]}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      const durationMs = performance.now() - started;
      if (response.status === 429 && attempt < 20) {
        const seconds = Number(response.headers.get('retry-after') ?? '1');
        await sleep(Math.max(seconds, 0.2) * 1000);
        continue;
      }
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: response.status, body: parsed as T, durationMs };
    }
  }

  /** A call that must answer 2xx (or one of `accept`); anything else stops the scenario with the reason. */
  async expect<T = unknown>(
    service: ServiceName,
    as: CallerRole,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
    options: { accept?: number[]; headers?: Record<string, string>; retries?: number } = {},
  ): Promise<Reply<T>> {
    let reply = await this.call<T>(service, as, method, path, body, options.headers);
    // Only for idempotent calls (e.g. samples: deduplicated by id): a 5xx under load is tried again.
    for (let attempt = 1; reply.status >= 500 && attempt <= (options.retries ?? 0); attempt++) {
      await sleep(500 * 2 ** attempt);
      reply = await this.call<T>(service, as, method, path, body, options.headers);
    }
    if ((reply.status >= 200 && reply.status < 300) || options.accept?.includes(reply.status)) return reply;
    throw new ScenarioError(
      `${method} ${service}${path}: ${reply.status} ${JSON.stringify(reply.body).slice(0, 500)}`,
    );
  }

  /** GET /metrics of a service (public), as Prometheus text. */
  async metrics(service: ServiceName): Promise<string> {
    const response = await fetch(`${this.urls[service]}/metrics`);
    return response.text();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it is true; throws with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new ScenarioError(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

/** Runs `work` over `items` with at most `limit` in flight; results in input order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Sums a Prometheus series (all label sets, or those matching `labels`) from /metrics text. */
export function sumSeries(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (!Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

/** Percentile (nearest rank) of an unsorted list; 0 for an empty one. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
