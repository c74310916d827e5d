import { EventStore } from '@fleetledger/eventstore';
import { serviceAudience } from '@fleetledger/platform';
import {
  ExampleModule,
  exampleService,
  httpAs,
  startTestService,
  TestService,
  testToken,
} from '@fleetledger/testing';
import { DataSource } from 'typeorm';

/** The platform's guards on the worked example service: rate limits per principal, 401/403 with nothing written. */
describe('platform access control on a real service', () => {
  let service: TestService;
  const audience = serviceAudience('example');

  beforeAll(async () => {
    service = await startTestService(ExampleModule, exampleService, {
      env: { RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_WINDOW_MS: '60000' },
    });
  });

  afterAll(async () => {
    await service?.stop();
  });

  it('limits each principal on its own: the fourth call in the window answers 429 with Retry-After, others go on', async () => {
    const alice = httpAs(service.url, await testToken({ roles: ['operator'], subject: 'alice', audience }));
    const bob = httpAs(service.url, await testToken({ roles: ['operator'], subject: 'bob', audience }));
    for (let i = 0; i < 3; i++) await alice.get('/accounts/nobody').expect(404);
    const limited = await alice.get('/accounts/nobody').expect(429);
    expect(limited.body).toMatchObject({ statusCode: 429, error: 'too-many-requests' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await bob.get('/accounts/nobody').expect(404);
    // Health and metrics are not rate limited (probes call them all the time).
    for (let i = 0; i < 5; i++) await httpAs(service.url, undefined).get('/health/live').expect(200);
  });

  it('answers 401 and 403 in the common error shape, with nothing appended', async () => {
    const store = service.app.get(EventStore);
    const dataSource = service.app.get(DataSource);
    const before = await store.headPosition(dataSource);
    const anonymous = await httpAs(service.url, undefined)
      .post('/accounts')
      .send({ accountId: 'x-1', owner: 'lab' })
      .expect(401);
    expect(anonymous.body).toEqual({
      statusCode: 401,
      error: 'unauthorized',
      message: expect.stringContaining('bearer token'),
      details: { reason: 'missing-token' },
    });
    const tenant = httpAs(
      service.url,
      await testToken({ roles: ['tenant'], tenant: 'acme', audience, subject: 't' }),
    );
    const refused = await tenant.post('/accounts').send({ accountId: 'x-1', owner: 'lab' }).expect(403);
    expect(refused.body).toMatchObject({
      statusCode: 403,
      error: 'role-required',
      details: { required: ['operator'] },
    });
    expect(await store.headPosition(dataSource)).toBe(before);
  });
});
