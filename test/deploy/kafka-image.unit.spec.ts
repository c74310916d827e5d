// The local Kafka image (scripts/images.sh) must read the environment as apache/kafka does, so that the tests'
// broker settings (libs/testing/src/test-containers.ts), docker-compose.yml and later SASL listeners mean the
// same on both images. The mapping script is run here with bash.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const script = join(__dirname, '..', '..', 'infra', 'images', 'kafka', 'env-to-properties');
const properties = (env: Record<string, string>) => {
  const result = spawnSync('bash', [script], { env: { PATH: '/usr/bin:/bin', ...env }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.split('\n').filter(Boolean);
};

describe('local Kafka image: KAFKA_* environment -> server.properties', () => {
  it.each([
    [
      'KAFKA_ADVERTISED_LISTENERS',
      'PLAINTEXT://localhost:9092',
      'advertised.listeners=PLAINTEXT://localhost:9092',
    ],
    ['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', '1', 'offsets.topic.replication.factor=1'],
    ['KAFKA_SASL_ENABLED_MECHANISMS', 'SCRAM-SHA-512', 'sasl.enabled.mechanisms=SCRAM-SHA-512'],
    [
      'KAFKA_LISTENER_NAME_SASL__PLAINTEXT_SCRAM___SHA___512_SASL_JAAS_CONFIG',
      'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    ],
  ])('%s', (name, value, line) => {
    expect(properties({ [name]: value })).toEqual([line]);
  });

  it('leaves JVM and tool variables out, and prints nothing without broker settings (default config)', () => {
    expect(
      properties({ KAFKA_HEAP_OPTS: '-Xmx512m', KAFKA_OPTS: '-Dx=1', KAFKA_JVM_PERFORMANCE_OPTS: '-server' }),
    ).toEqual([]);
  });
});
