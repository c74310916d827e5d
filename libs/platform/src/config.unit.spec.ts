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
    [
      'more in-sync replicas required than there are copies',
      { ...base, KAFKA_REPLICATION_FACTOR: '3', KAFKA_MIN_INSYNC_REPLICAS: '4' },
      /KAFKA_MIN_INSYNC_REPLICAS must not exceed/,
    ],
    [
      'a heartbeat too slow for the session timeout',
      { ...base, KAFKA_SESSION_TIMEOUT_MS: '10000', KAFKA_HEARTBEAT_INTERVAL_MS: '5000' },
      /KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third/,
    ],
    [
      'a Kafka user without a password',
      { ...base, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'billing' },
      /KAFKA_SASL_PASSWORD missing/,
    ],
    [
      'a Kafka password without a mechanism',
      { ...base, KAFKA_SASL_USERNAME: 'billing', KAFKA_SASL_PASSWORD: 'secret' },
      /KAFKA_SASL_MECHANISM missing/,
    ],
    [
      'an unknown SASL mechanism',
      { ...base, KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'b', KAFKA_SASL_PASSWORD: 's' },
      /KAFKA_SASL_MECHANISM/,
    ],
  ])('fails fast on %s, naming the variable', (_name, env, message) => {
    expect(() => parseServiceEnv(env)).toThrow(ConfigurationError);
    expect(() => parseServiceEnv(env)).toThrow(message);
  });

  it('takes Kafka SASL credentials all together, or none', () => {
    expect(parseServiceEnv(base).KAFKA_SASL_USERNAME).toBeUndefined();
    expect(
      parseServiceEnv({
        ...base,
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'billing',
        KAFKA_SASL_PASSWORD: 'secret',
      }),
    ).toMatchObject({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'billing' });
  });
});
