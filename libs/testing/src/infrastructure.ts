import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';

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

/**
 * Makes sure the integration tests have a real Kafka broker and a real PostgreSQL.
 * Given KAFKA_BROKERS / DATABASE_URL, it uses them as they are. Otherwise it runs scripts/infra.sh,
 * which starts the machine's PostgreSQL if needed and a local KRaft broker from Maven Central jars.
 * Returns true when it started the broker itself (so teardown stops it).
 * Kafka credentials (libs/testing/src/kafka-auth.ts): with KAFKA_BROKERS given, from KAFKA_CREDENTIALS_FILE
 * or KAFKA_SASL_*; with the local broker, from the credentials file its `up` generated.
 */
export async function ensureInfrastructure(log: (line: string) => void = () => undefined): Promise<boolean> {
  process.env.DATABASE_URL ??= DEFAULT_DATABASE_URL;
  // Tests create their own databases through this one; services under test get theirs in DATABASE_URL.
  process.env.TEST_ADMIN_DATABASE_URL ??= process.env.DATABASE_URL;
  if (process.env.KAFKA_BROKERS) return false;
  process.env.KAFKA_BROKERS = DEFAULT_KAFKA_BROKERS;
  const alreadyUp = await portAnswers('127.0.0.1', 9092);
  if (alreadyUp) log('using the Kafka broker already answering on 127.0.0.1:9092');
  else {
    log('starting local infrastructure (scripts/infra.sh up)');
    execFileSync('bash', [path.join(REPO_ROOT, 'scripts/infra.sh'), 'up'], { stdio: 'inherit' });
  }
  useLocalKafkaCredentials();
  return !alreadyUp;
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

export function stopInfrastructure(): void {
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts/infra.sh'), 'down'], { stdio: 'inherit' });
}
