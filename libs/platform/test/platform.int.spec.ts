import { Topics, topicName } from '@fleetledger/contracts';
import { EventStore, compareProjection, rebuildProjection } from '@fleetledger/eventstore';
import { Messaging } from '@fleetledger/platform';
import { api, startTestService, testKafka, TestService, TopicCollector } from '@fleetledger/testing';
import { DataSource } from 'typeorm';
import { accountsProjection, ExampleModule, exampleService } from '@fleetledger/testing';

describe('a service on the platform (worked example) against real Kafka and PostgreSQL', () => {
  let service: TestService;
  let collector: TopicCollector;
  let topic: string;

  beforeAll(async () => {
    service = await startTestService(ExampleModule, exampleService, { env: { HTTP_BODY_LIMIT: '64kb' } });
    topic = topicName(Topics.inventoryEvents, service.topicPrefix);
    collector = await new TopicCollector(testKafka()).start([topic]);
  });

  afterAll(async () => {
    await collector?.stop();
    await service?.stop();
  });

  it('answers liveness and readiness with Postgres and Kafka up', async () => {
    await api(service.url).get('/health/live').expect(200);
    const ready = await api(service.url).get('/health/ready').expect(200);
    expect(ready.body.details).toMatchObject({
      postgres: { status: 'up' },
      kafka: { status: 'up' },
      'consumer-lag': { status: 'up', lag: {} },
    });
  });

  it('turns a command into an event on the topic and a projection row, carrying the correlation id', async () => {
    const created = await api(service.url)
      .post('/accounts')
      .set('x-correlation-id', 'corr-123')
      .send({ accountId: 'acc-1', owner: 'lab-a' })
      .expect(201);
    expect(created.body.streamVersion).toBe(1);
    await api(service.url)
      .post('/accounts/acc-1/deposits')
      .send({ amountMinor: 2500, at: '2026-11-02T10:00:00Z' })
      .expect(201);

    const messages = await collector.waitFor((m) => m.length >= 2);
    const opened = messages.find((m) => m.headers['event-type'] === 'AccountOpened');
    expect(opened?.value).toMatchObject({
      streamId: 'account-acc-1',
      correlationId: 'corr-123',
      payload: { owner: 'lab-a' },
    });
    expect(opened?.message.key?.toString()).toBe('account-acc-1');
    const account = await api(service.url).get('/accounts/acc-1').expect(200);
    expect(account.body).toEqual({ accountId: 'acc-1', owner: 'lab-a', balanceMinor: 2500 });
  });

  it('rejects invalid input with 400 and a reason, and writes nothing', async () => {
    const dataSource = service.app.get(DataSource);
    const store = service.app.get(EventStore);
    const before = await store.headPosition(dataSource);
    const response = await api(service.url)
      .post('/accounts/acc-1/deposits')
      .send({ amountMinor: 12.5, at: 'yesterday' })
      .expect(400);
    expect(response.body.error).toBe('invalid-request');
    expect(response.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['amountMinor', 'at']);
    expect(await store.headPosition(dataSource)).toBe(before);
  });

  it('answers 400 to malformed JSON and 413 to a body over the limit, not 500', async () => {
    const malformed = await api(service.url)
      .post('/accounts')
      .set('content-type', 'application/json')
      .send('{"accountId": ')
      .expect(400);
    expect(malformed.body.error).toBe('bad-request');
    const huge = await api(service.url)
      .post('/accounts')
      .send({ accountId: 'big', owner: 'x'.repeat(100_000) })
      .expect(413);
    expect(huge.body.error).toBe('payload-too-large');
  });

  it('maps a domain rejection to a 4xx with its reason', async () => {
    const again = await api(service.url)
      .post('/accounts')
      .send({ accountId: 'acc-1', owner: 'lab-b' })
      .expect(409);
    expect(again.body).toMatchObject({ error: 'already-open' });
    const missing = await api(service.url)
      .post('/accounts/nope/deposits')
      .send({ amountMinor: 1, at: '2026-11-02T10:00:00Z' })
      .expect(404);
    expect(missing.body).toMatchObject({ error: 'not-open' });
  });

  it('exposes the platform metrics series', async () => {
    await service.app.get(Messaging).flushOutbox();
    const metrics = await api(service.url).get('/metrics').expect(200);
    expect(metrics.text).toMatch(
      /fleetledger_events_appended_total\{type="AccountOpened",service="example"\} 1/,
    );
    expect(metrics.text).toMatch(/fleetledger_events_published_total\{service="example"\} [1-9]/);
    expect(metrics.text).toContain('fleetledger_dead_letters_total');
  });

  it('rebuilds the inline projection from the log to the same rows', async () => {
    // Rebuilds are the audit role's work: it reads the service schema and writes only its replay schema.
    const dataSource = await new DataSource({ type: 'postgres', url: service.db.auditUrl }).initialize();
    try {
      const rebuilt = await rebuildProjection(dataSource, service.app.get(EventStore), accountsProjection, {
        targetSchema: 'example_replay',
      });
      const [comparison] = await compareProjection(
        dataSource,
        accountsProjection,
        'example',
        rebuilt.targetSchema,
      );
      expect(comparison).toMatchObject({ liveRows: 1, rebuiltRows: 1, equal: true });
    } finally {
      await dataSource.destroy();
    }
  });

  it('serves its OpenAPI document', async () => {
    const doc = await api(service.url).get('/docs/openapi.json').expect(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/accounts', '/accounts/{accountId}/deposits', '/health/ready']),
    );
  });
});
