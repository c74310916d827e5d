import { readFileSync } from 'node:fs';
import {
  AclEntry,
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Kafka,
  ResourcePatternTypes,
  SASLOptions,
} from 'kafkajs';
import type { KafkaAclBinding } from '@fleetledger/contracts';

/** The SASL mechanisms a FleetLedger client may be configured with (the local broker offers SCRAM-SHA-512). */
export const KAFKA_SASL_MECHANISMS = ['scram-sha-512', 'scram-sha-256', 'plain'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

export class KafkaSaslConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaSaslConfigurationError';
  }
}

/**
 * Kafka credentials from KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: all three or
 * none (none: an unauthenticated PLAINTEXT broker, e.g. a developer's own). Anything in between is a
 * mistake that would otherwise show up later as an opaque authentication failure, so it throws now.
 */
export interface KafkaSaslEnv {
  KAFKA_SASL_MECHANISM?: string;
  KAFKA_SASL_USERNAME?: string;
  KAFKA_SASL_PASSWORD?: string;
}

export function kafkaSaslFromEnv(env: KafkaSaslEnv): SASLOptions | undefined {
  const names = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const;
  const given = names.filter((name) => env[name]);
  if (given.length === 0) return undefined;
  if (given.length < names.length) {
    const missing = names.filter((name) => !env[name]);
    throw new KafkaSaslConfigurationError(
      `Kafka SASL is half configured: ${given.join(', ')} set but ${missing.join(', ')} missing (set all three or none)`,
    );
  }
  const mechanism = env.KAFKA_SASL_MECHANISM!.toLowerCase();
  if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new KafkaSaslConfigurationError(
      `KAFKA_SASL_MECHANISM must be one of ${KAFKA_SASL_MECHANISMS.join(', ')}, got ${env.KAFKA_SASL_MECHANISM}`,
    );
  }
  return {
    mechanism: mechanism as KafkaSaslMechanism,
    username: env.KAFKA_SASL_USERNAME!,
    password: env.KAFKA_SASL_PASSWORD!,
  } as SASLOptions;
}

export interface KafkaSecurityEnv extends KafkaSaslEnv {
  /** `true` (or a parsed boolean): TLS to the brokers (SASL_SSL in production). */
  KAFKA_SSL?: string | boolean;
  /** PEM file of the CA that signed the brokers' certificates (e.g. a Strimzi cluster CA); system CAs when unset. */
  KAFKA_SSL_CA_FILE?: string;
}

/** SASL and TLS settings for createKafka from the environment (see kafkaSaslFromEnv). */
export function kafkaSecurityFromEnv(env: KafkaSecurityEnv): { sasl?: SASLOptions; ssl?: KafkaTls } {
  const sasl = kafkaSaslFromEnv(env);
  const tls = env.KAFKA_SSL === true || env.KAFKA_SSL === 'true' || env.KAFKA_SSL === '1';
  if (env.KAFKA_SSL_CA_FILE && !tls)
    throw new KafkaSaslConfigurationError('KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true');
  const ssl = tls
    ? env.KAFKA_SSL_CA_FILE
      ? { ca: [readFileSync(env.KAFKA_SSL_CA_FILE, 'utf8')] }
      : true
    : undefined;
  return { ...(sasl ? { sasl } : {}), ...(ssl ? { ssl } : {}) };
}

/** kafkajs' `ssl`: true (system CAs) or TLS options with the CA to trust. */
export type KafkaTls = true | { ca: string[] };

/**
 * The credentials file written by `infra/kafka/kafka.sh up` (KAFKA_STATE_DIR/credentials.env, mode 600):
 * `KAFKA_SASL_MECHANISM=scram-sha-512` and one `KAFKA_PASSWORD_<USER>=<password>` line per SCRAM user.
 */
export class KafkaCredentials {
  constructor(
    readonly mechanism: KafkaSaslMechanism,
    private readonly passwords: ReadonlyMap<string, string>,
    /** KAFKA_SSL and KAFKA_SSL_CA_FILE when the broker's client listener speaks SASL_SSL (KAFKA_TLS=1). */
    private readonly tlsEnv: Readonly<Record<string, string>> = {},
  ) {}

  static parse(text: string): KafkaCredentials {
    const values = new Map<string, string>();
    for (const line of text.split('\n')) {
      const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (match) values.set(match[1], match[2]);
    }
    const passwords = new Map<string, string>();
    for (const [key, value] of values) {
      const user = /^KAFKA_PASSWORD_([A-Z0-9_]+)$/.exec(key)?.[1];
      if (user) passwords.set(user.toLowerCase(), value);
    }
    const mechanism = (values.get('KAFKA_SASL_MECHANISM') ?? 'scram-sha-512').toLowerCase();
    if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism))
      throw new KafkaSaslConfigurationError(
        `unknown KAFKA_SASL_MECHANISM ${mechanism} in the credentials file`,
      );
    const tlsEnv = Object.fromEntries(
      ['KAFKA_SSL', 'KAFKA_SSL_CA_FILE'].flatMap((key) => (values.has(key) ? [[key, values.get(key)!]] : [])),
    );
    return new KafkaCredentials(mechanism as KafkaSaslMechanism, passwords, tlsEnv);
  }

  static read(file: string): KafkaCredentials {
    return KafkaCredentials.parse(readFileSync(file, 'utf8'));
  }

  get users(): string[] {
    return [...this.passwords.keys()];
  }

  /** The SASL options of one user, for createKafka. */
  sasl(user: string): SASLOptions {
    const password = this.passwords.get(user);
    if (!password)
      throw new KafkaSaslConfigurationError(`no Kafka password for user ${user} in the credentials file`);
    return { mechanism: this.mechanism, username: user, password } as SASLOptions;
  }

  /** TLS for createKafka: undefined on a SASL_PLAINTEXT listener. */
  get ssl(): KafkaTls | undefined {
    return kafkaSecurityFromEnv(this.tlsEnv).ssl;
  }

  /** The KAFKA_SASL_* (and KAFKA_SSL*) variables of one user, for a service's environment. */
  env(user: string): Record<string, string> {
    const sasl = this.sasl(user) as { username: string; password: string };
    return {
      KAFKA_SASL_MECHANISM: this.mechanism,
      KAFKA_SASL_USERNAME: user,
      KAFKA_SASL_PASSWORD: sasl.password,
      ...this.tlsEnv,
    };
  }
}

export function toAclEntry(binding: KafkaAclBinding): AclEntry {
  return {
    principal: binding.principal,
    host: '*',
    resourceType: AclResourceTypes[binding.resourceType],
    resourceName: binding.resourceName,
    resourcePatternType: ResourcePatternTypes[binding.patternType],
    operation: AclOperationTypes[binding.operation],
    permissionType: AclPermissionTypes.ALLOW,
  };
}

/** Creates the bindings (as a super user). Kafka keeps one copy of a binding, so applying again changes nothing. */
export async function applyAclBindings(kafka: Kafka, bindings: readonly KafkaAclBinding[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // One request per few hundred bindings keeps each CreateAcls small.
    for (let i = 0; i < bindings.length; i += 200) {
      await admin.createAcls({ acl: bindings.slice(i, i + 200).map(toAclEntry) });
    }
  } finally {
    await admin.disconnect();
  }
}

/** Deletes exactly these bindings (as a super user): what a test run granted for its topic prefixes. */
export async function revokeAclBindings(kafka: Kafka, bindings: readonly KafkaAclBinding[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  let deleted = 0;
  try {
    for (let i = 0; i < bindings.length; i += 200) {
      const result = await admin.deleteAcls({ filters: bindings.slice(i, i + 200).map(toAclEntry) });
      deleted += result.filterResponses.reduce((n, r) => n + r.matchingAcls.length, 0);
    }
  } finally {
    await admin.disconnect();
  }
  return deleted;
}
