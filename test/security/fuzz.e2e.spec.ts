import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { api, waitUntil } from '@fleetledger/testing';
import { FLEET_GPUS, flowFleet } from '../e2e/fleet';
import { FlowServices, startFlowServices } from '../e2e/flow-services';

/**
 * Property-based fuzzing of every mutating route (POST/PUT) of the four services, with a caller that
 * may call it: bodies are generated from the route's own OpenAPI schema (right fields with right or wrong
 * types, missing and extra fields, garbage), so both the validation and the domain behind it are reached.
 * The properties: never a 5xx, and a refused request (4xx) writes nothing (no event in any log, no
 * outbox row, no sample). FUZZ_RUNS cases per route: 300 in `npm test` (about 8,400 requests, a minute
 * on a 2-core machine); `FUZZ_RUNS=2000 npx jest test/security/fuzz` is the full run (about 7 minutes).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SERVICES = ['inventory', 'allocation', 'metering', 'billing'] as const;
type ServiceName = (typeof SERVICES)[number];

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  format?: string;
  pattern?: string;
}
interface OpenApi {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> } }>>;
  components?: { schemas?: Record<string, Schema> };
}

const garbage = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.constantFrom('', '-1', '1e309', 'NaN', '2026-13-45T99:00:00Z', 'x'.repeat(3000), '../../etc', '\u0000'),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.object({ maxDepth: 2 }),
);

/** Values of the schema's shape most of the time, anything else sometimes. */
function arbitraryOf(schema: Schema, components: Record<string, Schema>, depth = 0): fc.Arbitrary<unknown> {
  if (schema.$ref) return arbitraryOf(components[schema.$ref.split('/').pop()!] ?? {}, components, depth);
  if (depth > 4) return garbage;
  const variants = schema.anyOf ?? schema.oneOf ?? schema.allOf;
  if (variants?.length) return fc.oneof(...variants.map((v) => arbitraryOf(v, components, depth + 1)));
  const typed = ((): fc.Arbitrary<unknown> => {
    if (schema.enum) return fc.constantFrom(...schema.enum);
    const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
    switch (type) {
      case 'string':
        if (schema.format === 'date-time')
          return fc
            .date({ min: new Date('2025-01-01'), max: new Date('2028-01-01'), noInvalidDate: true })
            .map((d) => d.toISOString());
        if (schema.format === 'date') return fc.constantFrom('2026-03-01', '2026-02-30', '2027-01-01');
        return fc.oneof(
          fc.constantFrom('acme', 'globex', 'H100', 'GB200', 'lease-acme', 's1', '1', '0', '8'),
          fc.string({ maxLength: 12 }),
        );
      case 'integer':
        return fc.oneof(fc.integer({ min: -2, max: 80 }), fc.constantFrom(0, 1, 8, 72, 2 ** 31, -(2 ** 31)));
      case 'number':
        return fc.oneof(fc.double({ noNaN: true, min: -10, max: 1e6 }), fc.constantFrom(0, 0.5, 1));
      case 'boolean':
        return fc.boolean();
      case 'array':
        return fc.array(arbitraryOf(schema.items ?? {}, components, depth + 1), { maxLength: 4 });
      case 'object':
      default: {
        const properties = Object.entries(schema.properties ?? {});
        if (properties.length === 0) return fc.object({ maxDepth: 1 });
        return fc.record(
          Object.fromEntries(
            properties.map(([key, value]) => [key, arbitraryOf(value, components, depth + 1)]),
          ),
          { requiredKeys: [] },
        );
      }
    }
  })();
  return fc.oneof({ arbitrary: typed, weight: 4 }, { arbitrary: garbage, weight: 1 });
}

describe('fuzzing every mutating route: never a 5xx, never a partial write', () => {
  let services: FlowServices;

  /**
   * Everything a refused request must not change: the newest event of each log (log_head is the sealed head since
   * #19, which the sealer moves on its own), outbox rows, raw samples.
   */
  const footprint = async (): Promise<string> => {
    const [row] = await services.dataSource().query(
      `SELECT (SELECT max(global_position) FROM inventory.events) AS inventory,
              (SELECT max(global_position) FROM allocation.events) AS allocation,
              (SELECT max(global_position) FROM metering.events) AS metering,
              (SELECT max(global_position) FROM billing.events) AS billing,
              (SELECT count(*) FROM inventory.outbox) + (SELECT count(*) FROM allocation.outbox)
                + (SELECT count(*) FROM metering.outbox) + (SELECT count(*) FROM billing.outbox) AS outbox,
              (SELECT count(*) FROM metering.samples) AS samples`,
    );
    return JSON.stringify(row);
  };

  beforeAll(async () => {
    services = await startFlowServices();
    // A world to act on: the small fleet, allocation knowing it.
    await api(services.inventory.url).post('/fleet/import').send(flowFleet).expect(200);
    const total = Object.values(FLEET_GPUS).reduce((a: number, b: number) => a + b, 0);
    await waitUntil(
      async () =>
        ((await api(services.allocation.url).get('/utilization')).body as { healthy: number }[]).reduce(
          (n, u) => n + u.healthy,
          0,
        ) === total,
      60_000,
      'the fleet in allocation',
    );
  }, 180_000);

  afterAll(async () => {
    await services?.stop();
  }, 60_000);

  const routes = SERVICES.flatMap((service) => {
    const document = JSON.parse(
      readFileSync(path.join(__dirname, `../../docs/openapi/${service}.json`), 'utf8'),
    ) as OpenApi;
    return Object.entries(document.paths).flatMap(([route, operations]) =>
      Object.entries(operations)
        .filter(([method]) => method === 'post' || method === 'put')
        .map(([method, operation]) => ({
          service,
          method: method as 'post' | 'put',
          route,
          body: arbitraryOf(
            operation.requestBody?.content['application/json']?.schema ?? {},
            document.components?.schemas ?? {},
          ),
        })),
    );
  });

  it('finds the mutating routes of all four services', () => {
    expect(routes.length).toBeGreaterThan(25);
  });

  it.each(routes.map((r) => [`${r.service} ${r.method.toUpperCase()} ${r.route}`, r] as const))(
    '%s',
    async (_name, { service, method, route, body }) => {
      const url = services[service as ServiceName].url;
      const pathParam = fc.constantFrom(
        'acme',
        'lease-acme',
        'x',
        's1-h01-r001',
        's1-h01-r001-n01',
        's1-h01-r001-n01-g0',
        'H100',
      );
      const pathFor = (values: string[]) => {
        let i = 0;
        return route.replace(/\{(\w+)\}/g, () => encodeURIComponent(values[i++] ?? 'x'));
      };
      const problems: string[] = [];
      const statuses = new Map<number, number>();
      let last = await footprint();
      await fc.assert(
        fc.asyncProperty(
          body,
          fc.array(pathParam, { minLength: 3, maxLength: 3 }),
          fc.constantFrom('acme', 'globex'),
          async (payload, params, tenantHeader) => {
            // Sent as JSON text, so that top-level numbers, strings and null reach the server as they are.
            const response = await api(url)
              [method](pathFor(params))
              .set('content-type', 'application/json')
              .set('x-tenant-id', tenantHeader)
              .send(payload === undefined ? '' : JSON.stringify(payload));
            statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
            const now = await footprint();
            if (response.status >= 500)
              problems.push(`${response.status} for ${JSON.stringify(payload)}: ${response.text}`);
            else if (response.status >= 400 && now !== last)
              problems.push(
                `${response.status} wrote something for ${JSON.stringify(payload)}: ${response.text}`,
              );
            last = now;
            return problems.length === 0;
          },
        ),
        { numRuns: RUNS, seed: 20261206, endOnFailure: true },
      );
      process.stdout.write(
        `[fuzz] ${service} ${method.toUpperCase()} ${route}: ${[...statuses]
          .sort(([a], [b]) => a - b)
          .map(([s, n]) => `${s}x${n}`)
          .join(' ')}\n`,
      );
      expect(problems).toEqual([]);
    },
    600_000,
  );
});
