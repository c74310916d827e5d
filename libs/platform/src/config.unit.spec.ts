import { ConfigurationError, parseServiceEnv } from './config';

const base = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/fleetledger',
  KAFKA_BROKERS: 'a:9092, b:9092',
};

describe('service environment', () => {
  it('parses brokers and applies defaults', () => {
    const env = parseServiceEnv(base);
    expect(env).toMatchObject({
      KAFKA_BROKERS: ['a:9092', 'b:9092'],
      PORT: 3000,
      MIGRATIONS_RUN: true,
      KAFKA_TOPIC_PREFIX: '',
    });
  });

  it.each([
    ['a missing database URL', { KAFKA_BROKERS: 'a:9092' }, /DATABASE_URL/],
    [
      'a database URL that is not postgres',
      { ...base, DATABASE_URL: 'mysql://x' },
      /DATABASE_URL: must be a postgres/,
    ],
    ['a port out of range', { ...base, PORT: '70000' }, /PORT/],
    ['a boolean that is not one', { ...base, MIGRATIONS_RUN: 'yes' }, /MIGRATIONS_RUN/],
  ])('fails fast on %s, naming the variable', (_name, env, message) => {
    expect(() => parseServiceEnv(env)).toThrow(ConfigurationError);
    expect(() => parseServiceEnv(env)).toThrow(message);
  });
});
