import { readFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, JWK } from 'jose';
import { Role, ROLES } from '@fleetledger/contracts';
import { serviceAudience } from '@fleetledger/platform';
import {
  api,
  declaredRoutes,
  expressRoutes,
  httpAs,
  TEST_AUTH_ENV,
  testToken,
  waitUntil,
} from '@fleetledger/testing';
import { FLEET_GPUS, flowFleet } from '../e2e/fleet';
import { FlowServices, startFlowServices } from '../e2e/flow-services';

/**
 * Who may call what, across the four services on real Kafka and PostgreSQL (the security issue's
 * route matrix). Every route is read from the controllers Nest loaded (and checked against the routes
 * Express really serves), so a new route without an access rule fails here before it ships.
 */
const SERVICES = ['inventory', 'allocation', 'metering', 'billing'] as const;
type ServiceName = (typeof SERVICES)[number];
const PUBLIC_ROUTES = ['GET /health/live', 'GET /health/ready', 'GET /metrics'];
const T0 = '2026-03-01T00:00:00.000Z';

describe('access: every route declares who may call it and refuses everyone else, writing nothing', () => {
  let services: FlowServices;
  let globexGpu: string;
  const urlOf = (service: ServiceName) => services[service].url;

  /** Rows in every table of the four schemas: what "nothing written" is checked against. */
  const rowCounts = async (): Promise<Record<string, number>> => {
    const db = services.dataSource();
    const tables: { table_schema: string; table_name: string }[] = await db.query(
      `SELECT table_schema, table_name FROM information_schema.tables
        WHERE table_schema = ANY($1) AND table_type = 'BASE TABLE' ORDER BY 1, 2`,
      [[...SERVICES]],
    );
    const counts: Record<string, number> = {};
    for (const { table_schema, table_name } of tables) {
      const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM "${table_schema}"."${table_name}"`);
      counts[`${table_schema}.${table_name}`] = n;
    }
    return counts;
  };

  /**
   * The counts once the consumers have taken in what the setup published (billing learns leases, metering
   * placements, asynchronously): two reads a second apart that agree. Only then can "nothing written" be checked.
   */
  const settledRowCounts = async (): Promise<Record<string, number>> => {
    let previous = JSON.stringify(await rowCounts());
    for (let i = 0; i < 60; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const current = JSON.stringify(await rowCounts());
      if (current === previous) return JSON.parse(current) as Record<string, number>;
      previous = current;
    }
    throw new Error('the row counts did not settle within a minute');
  };

  beforeAll(async () => {
    services = await startFlowServices();
    // A world with two tenants, so that one can try to reach the other's things.
    await api(urlOf('inventory')).post('/fleet/import').send(flowFleet).expect(200);
    await waitUntil(
      async () => {
        const utilization = (await api(urlOf('allocation')).get('/utilization')).body as {
          healthy: number;
        }[];
        return (
          utilization.reduce((n, u) => n + u.healthy, 0) ===
          Object.values(FLEET_GPUS).reduce((a: number, b: number) => a + b, 0)
        );
      },
      60_000,
      'the fleet in allocation',
    );
    for (const tenant of ['acme', 'globex']) {
      await api(urlOf('allocation'))
        .post('/leases')
        .send({
          leaseId: `lease-${tenant}`,
          tenantId: tenant,
          term: { start: T0, end: '2027-03-01T00:00:00.000Z' },
          committedGpus: { H100: 8 },
          exclusivity: 'shared',
          ratePlanId: 'rp-access',
          author: 'sales',
          at: '2026-02-20T00:00:00.000Z',
        })
        .expect(201);
      await api(urlOf('allocation'))
        .post(`/leases/lease-${tenant}/activate`)
        .send({ author: 'ops', at: '2026-02-20T00:00:00.000Z' })
        .expect(201);
      await api(urlOf('allocation'))
        .post(`/quotas/${tenant}/H100/training`)
        .send({
          change: { kind: 'set', nominal: 8, borrowLimit: 0 },
          reason: 'initial',
          author: 'cap',
          at: T0,
        })
        .expect(201);
    }
    const placed = await api(urlOf('allocation'))
      .post('/workloads')
      .send({
        workloadId: 'globex-train',
        tenantId: 'globex',
        workloadClass: 'training',
        gpuCount: 8,
        gang: true,
        priority: 10,
        requestedAt: T0,
      })
      .expect(201);
    if (placed.body.outcome !== 'placed')
      throw new Error(`setup: globex's workload was not placed: ${placed.text}`);
    globexGpu = placed.body.gpuIds[0];
  }, 180_000);

  afterAll(async () => {
    await services?.stop();
  }, 60_000);

  it('lists every route of the four services with an access rule; only health and metrics are public', async () => {
    let checked = 0;
    for (const service of SERVICES) {
      const app = services[service].app;
      const declared = declaredRoutes(app);
      const http = declared.filter((r) => r.kind === 'http');
      // Nothing Express serves escapes the table (a route added outside a controller would), but for the
      // API documents (public by design) and Nest's catch-all, which answers 404 (checked below).
      const served = expressRoutes(app)
        .map((r) => `${r.method} ${r.path}`)
        .filter((route) => !/^GET \/docs/.test(route) && !route.endsWith(' /{*path}'));
      const known = new Set(http.map((r) => `${r.method} ${r.path}`));
      expect(served.filter((route) => !known.has(route))).toEqual([]);
      expect(declared.filter((r) => r.access === undefined).map((r) => `${r.method} ${r.path}`)).toEqual([]);
      expect(
        http
          .filter((r) => r.access?.kind === 'public')
          .map((r) => `${r.method} ${r.path}`)
          .sort(),
      ).toEqual(PUBLIC_ROUTES);
      checked += declared.length;
      for (const method of ['get', 'post', 'put'] as const)
        expect((await httpAs(urlOf(service), undefined)[method]('/no/such/route')).status).toBe(404);
    }
    expect(checked).toBeGreaterThan(50);
    process.stdout.write(`[access] ${checked} routes and Kafka patterns declare who may call them\n`);
  });

  it('answers 401 without a valid token (missing, forged, for another service, expired) and 403 to the wrong role, on every route', async () => {
    const before = await settledRowCounts();
    const jwks = JSON.parse(readFileSync(process.env[TEST_AUTH_ENV.jwksFile]!, 'utf8')) as { keys: JWK[] };
    // A key the services do not trust, presented under the trusted key's id: the signature must fail.
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const forgedKey = { ...(await exportJWK(privateKey)), kid: jwks.keys[0].kid, alg: 'ES256' };
    let checks = 0;
    const failures: string[] = [];
    for (const service of SERVICES) {
      const audience = serviceAudience(service);
      const other = serviceAudience(service === 'billing' ? 'inventory' : 'billing');
      const allRoles: Role[] = [...ROLES];
      const cases: { name: string; token: string | undefined; status: number; reason?: string }[] = [
        { name: 'no token', token: undefined, status: 401, reason: 'missing-token' },
        {
          name: 'forged signature',
          token: await testToken({ roles: allRoles, tenant: 'acme', audience }, forgedKey),
          status: 401,
          reason: 'bad-signature',
        },
        {
          name: 'another service audience',
          token: await testToken({ roles: allRoles, tenant: 'acme', audience: other }),
          status: 401,
          reason: 'wrong-audience',
        },
        {
          name: 'expired',
          token: await testToken({ roles: allRoles, tenant: 'acme', audience, expiresInSeconds: -3600 }),
          status: 401,
          reason: 'expired',
        },
      ];
      const routes = declaredRoutes(services[service].app).filter(
        (r) => r.kind === 'http' && r.access?.kind === 'roles',
      );
      for (const route of routes) {
        const path = route.path.replace(/:(\w+)/g, 'x-$1');
        const allowed = route.access?.kind === 'roles' ? route.access.roles : [];
        const others = allRoles.filter((role) => !allowed.includes(role));
        const routeCases = [...cases];
        if (others.length > 0)
          routeCases.push({
            name: `roles ${others.join('+')}`,
            token: await testToken({ roles: others, tenant: 'acme', audience }),
            status: 403,
          });
        for (const testCase of routeCases) {
          const http = httpAs(urlOf(service), testCase.token);
          const call = http[route.method.toLowerCase() as 'get' | 'post' | 'put'](path);
          const response = await (route.method === 'GET' ? call : call.send({}));
          checks += 1;
          const reasonOk = !testCase.reason || response.body?.details?.reason === testCase.reason;
          if (response.status !== testCase.status || !reasonOk)
            failures.push(
              `${service} ${route.method} ${route.path} (${testCase.name}): ${response.status} ${JSON.stringify(response.body)}`,
            );
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await rowCounts()).toEqual(before);
    process.stdout.write(`[access] ${checks} refused calls checked, nothing written\n`);
  });

  it("keeps a tenant to its own things: another tenant's workload, lease, quotas, placements, usage and invoices are refused", async () => {
    const before = await settledRowCounts();
    const acme = (service: ServiceName) =>
      testToken({ roles: ['tenant'], tenant: 'acme', audience: serviceAudience(service) }).then((token) =>
        httpAs(urlOf(service), token),
      );
    const allocation = await acme('allocation');
    const refused = [
      await allocation.post('/workloads').send({
        workloadId: 'sneaky',
        tenantId: 'globex',
        workloadClass: 'training',
        gpuCount: 8,
        gang: true,
        priority: 10,
        requestedAt: T0,
      }),
      await allocation.get('/workloads/globex-train'),
      await allocation
        .post('/workloads/globex-train/release')
        .send({ requestedAt: '2026-03-01T01:00:00.000Z' }),
      await allocation.post('/workloads/globex-train/withdraw').send({ reason: 'mine now' }),
      await allocation.get('/leases/lease-globex'),
      await allocation.get('/leases').query({ tenantId: 'globex' }),
      await allocation.get('/quotas/globex'),
      await allocation.get('/quotas/globex/history'),
      await allocation.get('/placements').query({ tenantId: 'globex' }),
      await (await acme('metering')).get('/metering/usage').query({ tenantId: 'globex' }),
      await (await acme('billing')).get('/invoices').set('x-tenant-id', 'globex'),
    ];
    expect(refused.map((r) => [r.status, r.body.error])).toEqual(refused.map(() => [403, 'tenant-mismatch']));

    // What a tenant may see is its own, whatever it asks for.
    const leases = (await allocation.get('/leases').expect(200)).body as { tenantId: string }[];
    expect(leases.map((l) => l.tenantId)).toEqual(['acme']);
    const placements = (await allocation.get('/placements').expect(200)).body as { tenantId: string }[];
    expect(placements.every((p) => p.tenantId === 'acme')).toBe(true);
    await allocation.get('/quotas/acme').expect(200);
    // An operator acts for any tenant, and the workload is still globex's.
    const operator = httpAs(
      urlOf('allocation'),
      await testToken({ roles: ['operator'], audience: serviceAudience('allocation') }),
    );
    expect((await operator.get('/workloads/globex-train').expect(200)).body).toMatchObject({
      tenantId: 'globex',
    });
    expect(await rowCounts()).toEqual(before);
  });

  it('records on each event who caused it: the operator who acted for a tenant, and the service for what it consumed', async () => {
    const operatorToken = await testToken({
      roles: ['operator'],
      subject: 'ops-oncall',
      audience: serviceAudience('allocation'),
    });
    await httpAs(urlOf('allocation'), operatorToken)
      .post('/quotas/globex/H100/training')
      .send({ change: { kind: 'multiply', factor: 2 }, reason: 'limits x2', author: 'cap', at: T0 })
      .expect(201);
    const [changed] = await services
      .dataSource()
      .query(
        `SELECT metadata->'principal' AS principal FROM allocation.events WHERE type = 'allocation.QuotaChanged' ORDER BY global_position DESC LIMIT 1`,
      );
    expect(changed.principal).toEqual({
      subject: 'ops-oncall',
      issuer: 'fleetledger-dev',
      roles: ['operator'],
      tenantId: 'globex',
    });
    // A GPU under globex's workload fails: inventory records the operator, allocation consumes that event and
    // evicts the workload on its own, as the allocation service, caused by the inventory event.
    await httpAs(
      urlOf('inventory'),
      await testToken({ roles: ['operator'], subject: 'dc-tech', audience: serviceAudience('inventory') }),
    )
      .post(`/gpus/${globexGpu}/health`)
      .send({ health: 'failed', reason: 'XID 79' })
      .expect(200);
    const [failure] = await services
      .dataSource()
      .query(
        `SELECT event_id, metadata->'principal'->>'subject' AS subject FROM inventory.events WHERE type = 'inventory.GpuHealthChanged' ORDER BY global_position DESC LIMIT 1`,
      );
    expect(failure.subject).toBe('dc-tech');
    await waitUntil(
      async () =>
        (
          await services
            .dataSource()
            .query(
              `SELECT 1 FROM allocation.events WHERE type = 'allocation.WorkloadEvicted' AND metadata->>'causationId' = $1`,
              [failure.event_id],
            )
        ).length > 0,
      60_000,
      'the eviction caused by the GPU failure',
    );
    const [evicted] = await services
      .dataSource()
      .query(
        `SELECT metadata->'principal' AS principal FROM allocation.events WHERE type = 'allocation.WorkloadEvicted' AND metadata->>'causationId' = $1`,
        [failure.event_id],
      );
    expect(evicted.principal).toEqual({
      subject: 'service:allocation',
      issuer: 'fleetledger:service',
      roles: ['service'],
    });
  });
});
