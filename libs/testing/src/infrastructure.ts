import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';
const PODMAN_SOCKET = '/run/podman/podman.sock';

export function portAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Where each piece of the tests' infrastructure comes from. */
export type Source = 'given' | 'container' | 'local';
export interface InfrastructurePlan {
  kafka: Source;
  postgres: Source;
}

/**
 * The choice, as a pure function of the environment:
 *   - KAFKA_BROKERS / DATABASE_URL given: used as they are (a developer's own infra, CI without an engine);
 *   - otherwise containers (testcontainers) when a container engine answers;
 *   - otherwise the local-process path (scripts/infra.sh: Maven Central jars + the machine's PostgreSQL).
 * TEST_INFRA=containers or TEST_INFRA=local forces one way for what is not given.
 */
export function planInfrastructure(env: NodeJS.ProcessEnv, engineAnswers: boolean): InfrastructurePlan {
  const forced = env.TEST_INFRA;
  if (forced && !['auto', 'containers', 'local'].includes(forced))
    throw new Error(`TEST_INFRA must be auto, containers or local (got '${forced}')`);
  const missing: Source =
    forced === 'containers'
      ? 'container'
      : forced === 'local'
        ? 'local'
        : engineAnswers
          ? 'container'
          : 'local';
  return {
    kafka: env.KAFKA_BROKERS ? 'given' : missing,
    postgres: env.DATABASE_URL ? 'given' : missing,
  };
}

/**
 * A container engine testcontainers can use: DOCKER_HOST, Docker's socket, or podman's API socket (which is
 * then put into DOCKER_HOST; Ryuk, the reaper image, is left off there: containers are labelled and removed
 * by the teardown instead).
 */
export async function containerEngineAnswers(): Promise<boolean> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock') && existsSync(PODMAN_SOCKET)) {
    process.env.DOCKER_HOST = `unix://${PODMAN_SOCKET}`;
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  }
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/** What global setup started, so global teardown stops exactly that. */
export interface StartedInfrastructure {
  plan: InfrastructurePlan;
  stop(): Promise<void>;
}

/**
 * Makes sure the integration tests have a real Kafka broker and a real PostgreSQL, and hands them over in the
 * environment every test file inherits: KAFKA_BROKERS (bootstrap addresses) and TEST_ADMIN_DATABASE_URL
 * (a superuser URL; each test file creates its own database through it). DATABASE_URL gets the same URL
 * where it was not given.
 */
export async function ensureInfrastructure(
  log: (line: string) => void = () => undefined,
): Promise<StartedInfrastructure> {
  const needsEngine = !process.env.KAFKA_BROKERS || !process.env.DATABASE_URL;
  const engine = needsEngine && process.env.TEST_INFRA !== 'local' ? await containerEngineAnswers() : false;
  let plan = planInfrastructure(process.env, engine);
  const given = { kafka: process.env.KAFKA_BROKERS, postgres: process.env.DATABASE_URL };
  const stops: (() => Promise<void>)[] = [];
  // Idempotent: teardown and a signal handler may both call it.
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    if (plan.kafka === 'container' || plan.postgres === 'container') {
      try {
        await startContainers(plan, stops, log);
      } catch (error) {
        // Chosen automatically (not TEST_INFRA=containers): an engine that cannot run the images (no registry,
        // say) is no reason to fail; the local processes still can.
        if (process.env.TEST_INFRA === 'containers') throw error;
        await stopAll();
        log(`containers could not start (${(error as Error).message.split('\n')[0]}); using local processes`);
        if (!given.kafka) delete process.env.KAFKA_BROKERS;
        if (!given.postgres) delete process.env.DATABASE_URL;
        plan = planInfrastructure({ ...process.env, TEST_INFRA: 'local' }, false);
      }
    }
    // The machine's PostgreSQL (scripts/infra.sh starts it when the local broker is started too).
    if (plan.postgres === 'local') process.env.DATABASE_URL = DEFAULT_DATABASE_URL;
    if (plan.kafka === 'local') {
      process.env.KAFKA_BROKERS = DEFAULT_KAFKA_BROKERS;
      if (await portAnswers('127.0.0.1', 9092))
        log('using the Kafka broker already answering on 127.0.0.1:9092');
      else {
        log('starting local infrastructure (scripts/infra.sh up)');
        execFileSync('bash', [path.join(REPO_ROOT, 'scripts/infra.sh'), 'up'], { stdio: 'inherit' });
        stops.push(async () => stopInfrastructure());
      } // The local broker speaks SCRAM: its `up` generated the users' credentials (libs/testing/src/kafka-auth.ts).
      useLocalKafkaCredentials();
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  // Tests create their own databases through this one; services under test get theirs in DATABASE_URL.
  process.env.TEST_ADMIN_DATABASE_URL ??= process.env.DATABASE_URL;
  return { plan, stop: stopAll };
}

/** One Kafka and one PostgreSQL container, as the plan says; each registered for stopping as soon as it runs. */
async function startContainers(
  plan: InfrastructurePlan,
  stops: (() => Promise<void>)[],
  log: (line: string) => void,
): Promise<void> {
  const { startKafkaContainer, startPostgresContainer } = await import('./test-containers');
  // Both at once; whatever started is registered for stopping before anything else can fail.
  const { createScramUsers, credentialsFileText, scramKafkaEnvironment } = await import('./test-containers');
  // The broker authenticates and authorizes like the local one and production (SCRAM + ACLs).
  const [kafkaResult, postgresResult] = await Promise.allSettled([
    plan.kafka === 'container'
      ? startKafkaContainer({
          published: [{ name: 'CLIENT', containerPort: 9092 }],
          environment: scramKafkaEnvironment(),
        })
      : undefined,
    plan.postgres === 'container' ? startPostgresContainer() : undefined,
  ]);
  for (const result of [kafkaResult, postgresResult])
    if (result.status === 'fulfilled' && result.value) {
      const { container } = result.value;
      stops.push(async () => void (await container.stop()));
    }
  for (const result of [kafkaResult, postgresResult]) if (result.status === 'rejected') throw result.reason;
  const kafka = kafkaResult.status === 'fulfilled' ? kafkaResult.value : undefined;
  const postgres = postgresResult.status === 'fulfilled' ? postgresResult.value : undefined;
  if (kafka) {
    process.env.KAFKA_BROKERS = Object.values(kafka.bootstrap)[0];
    log(
      `Kafka container (${process.env.KAFKA_IMAGE ?? 'apache/kafka'}) ready in ${(kafka.readyMs / 1000).toFixed(1)} s at ${process.env.KAFKA_BROKERS}`,
    );
    const usersStarted = Date.now();
    const passwords = await createScramUsers(kafka.container);
    const credentials = path.join(mkdtempSync(path.join(tmpdir(), 'fleetledger-kafka-')), 'credentials.env');
    writeFileSync(credentials, credentialsFileText(passwords), { mode: 0o600 });
    process.env.KAFKA_CREDENTIALS_FILE = credentials;
    log(`Kafka SCRAM users created in ${((Date.now() - usersStarted) / 1000).toFixed(1)} s (${credentials})`);
    const warmUpStarted = Date.now();
    const { warmUpKafka } = await import('./kafka-warm-up');
    await warmUpKafka(process.env.KAFKA_BROKERS.split(','), { username: 'admin', password: passwords.admin });
    log(`Kafka coordinators warmed up in ${((Date.now() - warmUpStarted) / 1000).toFixed(1)} s`);
  }
  if (postgres) {
    process.env.DATABASE_URL = postgres.adminUrl;
    log(
      `PostgreSQL container (${process.env.POSTGRES_IMAGE ?? 'postgres'}) ready in ${(postgres.readyMs / 1000).toFixed(1)} s`,
    );
  }
}

export function stopInfrastructure(): void {
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts/infra.sh'), 'down'], { stdio: 'inherit' });
}

/** The SCRAM credentials file `infra/kafka/kafka.sh up` generated for the local broker, if there is one. */
export function localKafkaCredentialsFile(repoRoot = REPO_ROOT): string | undefined {
  const file = path.join(
    process.env.KAFKA_STATE_DIR ?? path.join(repoRoot, '.infra/kafka'),
    'credentials.env',
  );
  return existsSync(file) ? file : undefined;
}

/** Points KAFKA_CREDENTIALS_FILE at the local broker's credentials, unless credentials were given. */
export function useLocalKafkaCredentials(): void {
  const file = localKafkaCredentialsFile();
  if (file && !process.env.KAFKA_CREDENTIALS_FILE && !process.env.KAFKA_SASL_USERNAME)
    process.env.KAFKA_CREDENTIALS_FILE = file;
}

/**
 * Where the test workers record the topic prefixes they granted Kafka ACLs for (libs/testing/src/kafka-auth.ts),
 * so that the global teardown can delete exactly those: other runs on the same broker keep theirs.
 */
export function recordKafkaTestGrants(): void {
  process.env.KAFKA_TEST_GRANTS_FILE ??= path.join(tmpdir(), `fleetledger-kafka-grants-${process.pid}.txt`);
}

export function revokeKafkaTestGrants(): void {
  const file = process.env.KAFKA_TEST_GRANTS_FILE;
  if (!file || !existsSync(file) || !process.env.KAFKA_CREDENTIALS_FILE) return;
  const args = ['-r', '@swc-node/register', 'scripts/kafka-acls.ts', '--revoke-prefixes-from', file];
  try {
    execFileSync('node', args, { cwd: REPO_ROOT, stdio: 'inherit' });
    rmSync(file, { force: true });
  } catch {
    process.stderr.write(
      `[test infra] the Kafka ACLs of this run's test prefixes stay (listed in ${file})\n`,
    );
  }
}
