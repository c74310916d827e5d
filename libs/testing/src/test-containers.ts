import {
  BoundPorts,
  GenericContainer,
  getContainerRuntimeClient,
  InspectResult,
  StartedTestContainer,
  Wait,
  waitForContainer,
} from 'testcontainers';
import { PostgreSqlContainer } from '@testcontainers/postgresql';

/**
 * The integration tests' Kafka and PostgreSQL as containers (testcontainers, one of each per jest run).
 * Images follow the official contracts, so a laptop with Docker pulls `apache/kafka` and `postgres`, and a
 * machine without a registry points KAFKA_IMAGE / POSTGRES_IMAGE at the look-alikes built by
 * scripts/images.sh.
 */
export const DEFAULT_KAFKA_IMAGE = 'apache/kafka:4.1.1';
export const DEFAULT_POSTGRES_IMAGE = 'postgres:16';

/** Every container a run starts carries this label, so a crashed run's leftovers can be removed by it. */
export const RUN_LABEL = 'fleetledger.run';

export function runLabels(): Record<string, string> {
  return { [RUN_LABEL]: process.env.FLEETLEDGER_RUN_ID ?? `jest-${process.pid}`, 'fleetledger.role': 'test' };
}

/** A listener published to the host: advertised to clients with the port the engine mapped it to. */
export interface PublishedListener {
  name: string;
  containerPort: number;
}

export interface KafkaContainerOptions {
  image?: string;
  /**
   * Extra broker settings in apache/kafka's environment form (KAFKA_<PROPERTY> -> property, e.g.
   * KAFKA_SASL_ENABLED_MECHANISMS), merged over the single-node defaults below.
   */
  environment?: Record<string, string>;
  /** Listeners clients on the host connect to; the first is the bootstrap address handed to tests. */
  published?: PublishedListener[];
}

export interface StartedKafka {
  container: StartedTestContainer;
  /** host:port per published listener name, e.g. { PLAINTEXT: '127.0.0.1:32771' } */
  bootstrap: Record<string, string>;
  readyMs: number;
}

const STARTER_SCRIPT = '/testcontainers_start.sh';
const WAITING = 'Waiting for the starter script';
const BROKER_PORT = 9093; // the inter-broker listener, inside the container only
const CONTROLLER_PORT = 9094;

/** One KRaft node (broker + controller), with every internal topic fitting on one broker. */
export function singleNodeKafkaEnvironment(): Record<string, string> {
  return {
    CLUSTER_ID: '4L6g3nShT-eMCtK--X86sw',
    KAFKA_NODE_ID: '1',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_CONTROLLER_QUORUM_VOTERS: `1@localhost:${CONTROLLER_PORT}`,
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
    KAFKA_NUM_PARTITIONS: '3',
    KAFKA_DEFAULT_REPLICATION_FACTOR: '1',
    KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '3',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    KAFKA_NUM_NETWORK_THREADS: '2',
    KAFKA_NUM_IO_THREADS: '2',
    KAFKA_BACKGROUND_THREADS: '2',
    KAFKA_HEAP_OPTS: '-Xms128m -Xmx512m',
  };
}

/**
 * Listeners and their security protocols: the published ones, BROKER and CONTROLLER. A published listener
 * named like a protocol (PLAINTEXT, SASL_PLAINTEXT, ...) uses it; give KAFKA_LISTENER_SECURITY_PROTOCOL_MAP
 * in `environment` for other names.
 */
export function kafkaListenerEnvironment(published: PublishedListener[]): Record<string, string> {
  const all = [
    ...published.map(({ name, containerPort }) => ({ name, port: containerPort, protocol: name })),
    { name: 'BROKER', port: BROKER_PORT, protocol: 'PLAINTEXT' },
    { name: 'CONTROLLER', port: CONTROLLER_PORT, protocol: 'PLAINTEXT' },
  ];
  return {
    KAFKA_LISTENERS: all.map(({ name, port }) => `${name}://0.0.0.0:${port}`).join(','),
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: all.map(({ name, protocol }) => `${name}:${protocol}`).join(','),
  };
}

/**
 * apache/kafka advertises what KAFKA_ADVERTISED_LISTENERS says, and clients on the host need the mapped port,
 * which exists only once the container does. So, as testcontainers' own Kafka modules do, the container
 * first waits for a starter script; the script, written once the ports are known, exports the advertised
 * listeners and runs the image's own /etc/kafka/docker/run.
 */
class KafkaTestContainer extends GenericContainer {
  constructor(
    image: string,
    private readonly published: PublishedListener[],
  ) {
    super(image);
    this.withExposedPorts(...published.map(({ containerPort }) => containerPort))
      .withEntrypoint(['sh'])
      .withCommand([
        '-c',
        `echo '${WAITING}'; while [ ! -f ${STARTER_SCRIPT} ]; do sleep 0.1; done; exec sh ${STARTER_SCRIPT}`,
      ])
      .withWaitStrategy(Wait.forLogMessage(WAITING))
      .withStartupTimeout(120_000);
  }

  protected override async containerStarted(
    container: StartedTestContainer,
    inspectResult: InspectResult,
  ): Promise<void> {
    const advertised = [
      ...this.published.map(
        ({ name, containerPort }) =>
          `${name}://${container.getHost()}:${container.getMappedPort(containerPort)}`,
      ),
      `BROKER://localhost:${BROKER_PORT}`,
    ].join(',');
    const script = `export KAFKA_ADVERTISED_LISTENERS='${advertised}'\nexec /etc/kafka/docker/run\n`;
    await container.copyContentToContainer([{ content: script, target: STARTER_SCRIPT, mode: 0o755 }]);
    const client = await getContainerRuntimeClient();
    const boundPorts = BoundPorts.fromInspectResult(client.info.containerRuntime.hostIps, inspectResult);
    await waitForContainer(
      client,
      client.container.getById(container.getId()),
      Wait.forLogMessage(/Kafka Server started/).withStartupTimeout(120_000),
      boundPorts,
    );
  }
}

export async function startKafkaContainer(options: KafkaContainerOptions = {}): Promise<StartedKafka> {
  const published = options.published ?? [{ name: 'PLAINTEXT', containerPort: 9092 }];
  const started = Date.now();
  const container = await new KafkaTestContainer(
    options.image ?? process.env.KAFKA_IMAGE ?? DEFAULT_KAFKA_IMAGE,
    published,
  )
    .withEnvironment({
      ...singleNodeKafkaEnvironment(),
      ...kafkaListenerEnvironment(published),
      ...options.environment,
    })
    .withLabels(runLabels())
    .start();
  const bootstrap = Object.fromEntries(
    published.map(({ name, containerPort }) => [
      name,
      `${container.getHost()}:${container.getMappedPort(containerPort)}`,
    ]),
  );
  return { container, bootstrap, readyMs: Date.now() - started };
}

export interface StartedPostgres {
  container: StartedTestContainer;
  /** a superuser URL on the `postgres` database: tests create their own databases through it */
  adminUrl: string;
  readyMs: number;
}

/**
 * PostgreSQL for tests. The official image logs "ready to accept connections" twice on a first start (the
 * init server, then the real one); waiting for the second works on every engine, where the module's
 * default health check needs an engine that runs health checks (podman without systemd does not).
 * Durability is traded for speed: the data dies with the container anyway.
 */
export async function startPostgresContainer(image?: string): Promise<StartedPostgres> {
  const started = Date.now();
  const container = await new PostgreSqlContainer(
    image ?? process.env.POSTGRES_IMAGE ?? DEFAULT_POSTGRES_IMAGE,
  )
    .withUsername('postgres')
    .withPassword('postgres')
    .withDatabase('postgres')
    .withCommand(['postgres', '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'])
    .withWaitStrategy(
      Wait.forAll([
        Wait.forLogMessage(/database system is ready to accept connections/, 2),
        Wait.forListeningPorts(),
      ]),
    )
    .withLabels(runLabels())
    .start();
  return {
    container,
    adminUrl: container.getConnectionUri(),
    readyMs: Date.now() - started,
  };
}

/**
 * The SASL users of FleetLedger's Kafka (libs/contracts/src/kafka-acls.ts KafkaUsers; listed here because
 * global setup runs without the module aliases, and checked against the contracts by a unit test).
 */
export const KAFKA_SCRAM_USERS = [
  'admin',
  'inventory',
  'allocation',
  'metering',
  'billing',
  'audit',
  'telemetry',
];

/**
 * Broker settings for SCRAM-SHA-512 with ACLs, in apache/kafka's environment form: the published CLIENT
 * listener authenticates every client; StandardAuthorizer denies what no ACL allows. The BROKER and
 * CONTROLLER listeners stay inside the container (not published) and are trusted (ANONYMOUS is a super
 * user there), which is what lets `createScramUsers` bootstrap the users the same way the local broker's
 * `--add-scram` does at format time.
 */
export function scramKafkaEnvironment(): Record<string, string> {
  return {
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CLIENT:SASL_PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT',
    KAFKA_SASL_ENABLED_MECHANISMS: 'SCRAM-SHA-512',
    KAFKA_LISTENER_NAME_CLIENT_SCRAM___SHA___512_SASL_JAAS_CONFIG:
      'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    KAFKA_AUTHORIZER_CLASS_NAME: 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND: 'false',
    KAFKA_SUPER_USERS: 'User:ANONYMOUS;User:admin',
  };
}

/**
 * Creates the SCRAM users with `kafka-configs.sh` inside the container (through its trusted BROKER listener),
 * all at once, and returns their passwords (random per run). The JVM tools run with C1 and serial GC, as
 * they start more often than they run.
 */
export async function createScramUsers(
  container: StartedTestContainer,
  users: readonly string[] = KAFKA_SCRAM_USERS,
): Promise<Record<string, string>> {
  const { randomBytes } = await import('node:crypto');
  const passwords = Object.fromEntries(users.map((user) => [user, randomBytes(18).toString('base64url')]));
  const commands = users.map(
    (user) =>
      `/opt/kafka/bin/kafka-configs.sh --bootstrap-server localhost:${BROKER_PORT} --alter --entity-type users ` +
      `--entity-name ${user} --add-config 'SCRAM-SHA-512=[password=${passwords[user]}]' >/tmp/scram-${user}.log 2>&1 &`,
  );
  const script = `${commands.join('\n')}\nwait\ncat /tmp/scram-*.log`;
  const result = await container.exec(['sh', '-c', script], {
    env: { KAFKA_HEAP_OPTS: '-Xmx96m', KAFKA_OPTS: '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC' },
  });
  const done = users.filter((user) => result.output.includes(`Completed updating config for user ${user}.`));
  if (done.length !== users.length)
    throw new Error(`creating the Kafka SCRAM users failed:\n${result.output}`);
  return passwords;
}

/** The credentials file format of infra/kafka/kafka.sh (read by libs/eventstore's credentials reader). */
export function credentialsFileText(passwords: Record<string, string>): string {
  return [
    'KAFKA_SASL_MECHANISM=scram-sha-512',
    ...Object.entries(passwords).map(
      ([user, password]) => `KAFKA_PASSWORD_${user.toUpperCase()}=${password}`,
    ),
    '',
  ].join('\n');
}
