import { planInfrastructure } from './infrastructure';

describe('where the integration tests get Kafka and PostgreSQL from', () => {
  const given = { KAFKA_BROKERS: 'broker:9092', DATABASE_URL: 'postgres://u@db:5432/postgres' };
  it.each([
    {
      case: 'both given, engine up: nothing is started',
      env: given,
      engine: true,
      kafka: 'given',
      postgres: 'given',
    },
    { case: 'both given, no engine', env: given, engine: false, kafka: 'given', postgres: 'given' },
    {
      case: 'nothing given, engine up: containers',
      env: {},
      engine: true,
      kafka: 'container',
      postgres: 'container',
    },
    {
      case: 'nothing given, no engine: local processes',
      env: {},
      engine: false,
      kafka: 'local',
      postgres: 'local',
    },
    {
      case: 'only the broker given: a PostgreSQL container',
      env: { KAFKA_BROKERS: 'broker:9092' },
      engine: true,
      kafka: 'given',
      postgres: 'container',
    },
    {
      case: 'TEST_INFRA=local wins over an engine',
      env: { TEST_INFRA: 'local' },
      engine: true,
      kafka: 'local',
      postgres: 'local',
    },
    {
      case: 'TEST_INFRA=containers asks for containers even when the probe failed',
      env: { TEST_INFRA: 'containers', DATABASE_URL: 'postgres://u@db/postgres' },
      engine: false,
      kafka: 'container',
      postgres: 'given',
    },
  ])('$case', ({ env, engine, kafka, postgres }) => {
    expect(planInfrastructure(env, engine)).toEqual({ kafka, postgres });
  });

  it('refuses an unknown TEST_INFRA', () => {
    expect(() => planInfrastructure({ TEST_INFRA: 'docker' }, true)).toThrow(/TEST_INFRA must be/);
  });
});
