// docker-compose.yml is checked by parsing it (YAML 1.1 merge keys, as Compose reads them) and asserting the
// structure Compose needs to start the platform in order; test/compose.e2e.spec.ts runs it where an engine is.
// Images and host ports are `${VAR:-default}` variables: what a laptop gets is the default.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { serviceEnvSchema } from '@fleetledger/platform/config';

interface ComposeService {
  image?: string;
  build?: { context: string };
  command?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
  restart?: string;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** What Compose substitutes for `${NAME:-default}` when NAME is unset. */
function withDefaults(text: string): string {
  return text.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
}

const composeText = readFileSync(join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8');
const compose = parse(withDefaults(composeText), { merge: true }) as ComposeFile;
const apps = [
  { name: 'inventory', hostPort: 3001 },
  { name: 'allocation', hostPort: 3002 },
  { name: 'metering', hostPort: 3003 },
  { name: 'billing', hostPort: 3004 },
];

/** What each app service needs so that `docker compose up` starts it only once its dependencies are usable. */
function appServiceProblems(file: ComposeFile, name: string): string[] {
  const service = file.services[name];
  if (!service) return [`${name}: missing`];
  const problems: string[] = [];
  const expected: Record<string, string> = {
    postgres: 'service_healthy',
    kafka: 'service_healthy',
    [`${name}-migrate`]: 'service_completed_successfully',
  };
  for (const [dependency, condition] of Object.entries(expected)) {
    const actual = service.depends_on?.[dependency]?.condition;
    if (actual !== condition)
      problems.push(`${name}: depends_on ${dependency} is ${actual ?? 'absent'}, want ${condition}`);
  }
  if (!service.healthcheck?.test.join(' ').includes('/health/ready'))
    problems.push(`${name}: healthcheck does not call /health/ready`);
  if (service.environment?.SERVICE !== name) problems.push(`${name}: SERVICE is not ${name}`);
  return problems;
}

describe('docker-compose.yml', () => {
  it('declares the infrastructure, a migration per service, the four services and the demo seed', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'kafka',
        'postgres',
        'auth-init',
        ...apps.flatMap(({ name }) => [name, `${name}-migrate`]),
        'demo-seed',
      ].sort(),
    );
  });

  it('runs Kafka 4.1.1 as a single KRaft node whose internal topics fit on one broker', () => {
    const kafka = compose.services.kafka;
    expect(kafka.image).toBe('apache/kafka:4.1.1');
    const env = kafka.environment!;
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${env.KAFKA_NODE_ID}@kafka:9093`);
    for (const key of [
      'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR',
      'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR',
      'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR',
      'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR',
      'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR',
    ]) {
      expect([key, String(env[key])]).toEqual([key, '1']);
    }
    // KRaft formats its log dir with CLUSTER_ID: a base64url-encoded 16-byte UUID.
    expect(Buffer.from(String(env.CLUSTER_ID), 'base64url')).toHaveLength(16);
    expect(String(env.KAFKA_ADVERTISED_LISTENERS).split(',')).toContain('PLAINTEXT://kafka:9092');
    expect(kafka.healthcheck?.test.join(' ')).toContain('kafka-broker-api-versions.sh');
  });

  it('runs PostgreSQL 16 with a readiness healthcheck on the database the services use', () => {
    const postgres = compose.services.postgres;
    expect(postgres.image).toBe('postgres:16');
    expect(postgres.healthcheck?.test.join(' ')).toContain('pg_isready');
    const url = new URL(String(compose.services.billing.environment!.DATABASE_URL));
    expect({
      user: url.username,
      password: url.password,
      host: url.hostname,
      db: url.pathname.slice(1),
    }).toEqual({
      user: postgres.environment!.POSTGRES_USER,
      password: postgres.environment!.POSTGRES_PASSWORD,
      host: 'postgres',
      db: postgres.environment!.POSTGRES_DB,
    });
  });

  it.each(apps)(
    '$name starts after Postgres and Kafka are healthy and its migration succeeded',
    ({ name }) => {
      expect(appServiceProblems(compose, name)).toEqual([]);
    },
  );

  it.each(apps)('$name is published on host port $hostPort', ({ name, hostPort }) => {
    expect(compose.services[name].ports).toEqual([`${hostPort}:3000`]);
  });

  it.each(apps)('$name has an environment the services accept (libs/platform schema)', ({ name }) => {
    const env = serviceEnvSchema.parse(compose.services[name].environment);
    expect(env).toMatchObject({
      KAFKA_BROKERS: ['kafka:9092'],
      KAFKA_TOPIC_PREFIX: '',
      PORT: 3000,
      MIGRATIONS_RUN: false,
    });
  });

  it.each(apps)('$name-migrate runs once: --migrate-only, after Postgres, never restarted', ({ name }) => {
    const migrate = compose.services[`${name}-migrate`];
    expect(migrate.command).toEqual(['--migrate-only']);
    expect(migrate.restart).toBe('no');
    expect(migrate.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(serviceEnvSchema.parse(migrate.environment)).toMatchObject({ MIGRATIONS_RUN: true });
    expect(migrate.environment?.SERVICE).toBe(name);
  });

  it('every container of the platform runs the one image, built from this repository', () => {
    const own = Object.entries(compose.services).filter(([name]) => name !== 'kafka' && name !== 'postgres');
    for (const [, service] of own) {
      expect(service.image).toBe('fleetledger:local');
      expect(service.build?.context).toBe('.');
    }
  });

  it('the demo seed runs only in the "demo" profile, after the four services are healthy', () => {
    const seed = compose.services['demo-seed'];
    expect(seed.profiles).toEqual(['demo']);
    // It mints its token with the local issuer's key, then seeds.
    expect(seed.command).toEqual([
      'sh',
      '-c',
      expect.stringMatching(
        /^SEED_TOKEN="\$\$\(node dist\/scripts\/dev-issuer\.js mint .*\)" exec node dist\/scripts\/seed-demo\.js$/,
      ),
    ]);
    expect(seed.depends_on).toEqual(
      Object.fromEntries(apps.map(({ name }) => [name, { condition: 'service_healthy' }])),
    );
  });

  it('has no top-level name (Debian docker-compose 1.29 rejects it) and no variable without a default', () => {
    expect(parse(composeText)).not.toHaveProperty('name');
    expect(withDefaults(composeText)).not.toContain('${');
  });

  it('advertises the Kafka host listener on the port it is published on', () => {
    const kafka = parse(composeText, { merge: true }).services.kafka;
    const [published] = String(kafka.ports[0]).split(':');
    expect(String(kafka.environment.KAFKA_ADVERTISED_LISTENERS)).toContain(`HOST://localhost:${published}`);
  });

  it('keeps Kafka and Postgres data, and the local issuer keys, in named volumes', () => {
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual(['auth-keys', 'kafka-data', 'postgres-data']);
  });

  it('every service authenticates callers: the issuer keys mounted read-only, its own audience', () => {
    for (const { name } of apps) {
      const service = compose.services[name];
      expect(service.environment).toMatchObject({
        AUTH_ISSUER: 'fleetledger-dev',
        AUTH_JWKS_FILE: '/auth/jwks.json',
        AUTH_AUDIENCE: `fleetledger-${name}`,
      });
      expect((service as { volumes?: string[] }).volumes).toContain('auth-keys:/auth:ro');
      expect(service.depends_on?.['auth-init']).toEqual({ condition: 'service_completed_successfully' });
    }
  });

  it('detects a service that would start before its migration finished', () => {
    const broken: ComposeFile = structuredClone(compose);
    broken.services.billing.depends_on!['billing-migrate'] = { condition: 'service_started' };
    delete broken.services.billing.depends_on!.kafka;
    expect(appServiceProblems(broken, 'billing')).toEqual([
      'billing: depends_on kafka is absent, want service_healthy',
      'billing: depends_on billing-migrate is service_started, want service_completed_successfully',
    ]);
  });
});
