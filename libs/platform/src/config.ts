import { z } from 'zod';
import { formatZodError, roleSchema } from '@fleetledger/contracts';
import { KAFKA_SASL_MECHANISMS, kafkaSecurityFromEnv } from '@fleetledger/eventstore/kafka-security';

const booleanFromString = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

/** A variable holding JSON, parsed and then checked against `schema`. */
function jsonOf<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** The environment every FleetLedger service reads, validated once at start (fail fast, clear message). */
export const serviceEnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  KAFKA_BROKERS: z
    .string()
    .min(1)
    .transform((value) =>
      value
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    ),
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9._-]*$/)
    .default(''),
  /** Kafka SASL credentials of this service (all three or none; docs/deploy.md, "Kafka security"). */
  KAFKA_SASL_MECHANISM: z.enum(KAFKA_SASL_MECHANISMS).optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  /** TLS to the brokers: `true` in production (SASL_SSL); the local loopback broker is SASL_PLAINTEXT. */
  KAFKA_SSL: booleanFromString.default(false),
  /** PEM file of the CA that signed the brokers' certificates (mounted from a Secret); system CAs when unset. */
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  /**
   * A replicated cluster (docs/deploy.md, "A replicated Kafka cluster"): copies of each topic the service
   * creates (1 on the local single broker, 3 in production) and the fewest in-sync copies an acks=all write
   * needs (2 with 3 copies). Read by ensureTopics (libs/eventstore/src/kafka.ts); validated here.
   */
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(7).default(1),
  KAFKA_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).max(7).optional(),
  /** Consumer group timing: a member silent this long is dropped and its partitions reassigned. */
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6_000).max(300_000).default(30_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).max(100_000).default(3_000),
  /** Largest JSON body accepted (telemetry batches and fleet imports are large); bigger answers 413. */
  HTTP_BODY_LIMIT: z
    .string()
    .regex(/^\d+(kb|mb)$/)
    .default('20mb'),
  /** Readiness fails when a consumer is more records behind than this (0: lag is reported, never fails). */
  CONSUMER_LAG_READY_MAX: z.coerce.number().int().min(0).default(0),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  MIGRATIONS_RUN: booleanFromString.default(true),
  OUTBOX_RELAY: booleanFromString.default(true),
  CONSUMERS: booleanFromString.default(true),
});

export type ServiceEnv = z.infer<typeof serviceEnvSchema>;

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

export function parseServiceEnv(env: Record<string, string | undefined>): ServiceEnv {
  const parsed = serviceEnvSchema.safeParse(env);
  if (!parsed.success) throw new ConfigurationError(`invalid environment: ${formatZodError(parsed.error)}`);
  const { KAFKA_REPLICATION_FACTOR, KAFKA_MIN_INSYNC_REPLICAS, KAFKA_SESSION_TIMEOUT_MS } = parsed.data;
  if (KAFKA_MIN_INSYNC_REPLICAS !== undefined && KAFKA_MIN_INSYNC_REPLICAS > KAFKA_REPLICATION_FACTOR)
    throw new ConfigurationError(
      'invalid environment: KAFKA_MIN_INSYNC_REPLICAS must not exceed KAFKA_REPLICATION_FACTOR (no write could succeed)',
    );
  if (parsed.data.KAFKA_HEARTBEAT_INTERVAL_MS * 3 > KAFKA_SESSION_TIMEOUT_MS)
    throw new ConfigurationError(
      'invalid environment: KAFKA_HEARTBEAT_INTERVAL_MS must be at most a third of KAFKA_SESSION_TIMEOUT_MS',
    );
  try {
    kafkaSecurityFromEnv(parsed.data);
  } catch (error) {
    throw new ConfigurationError(`invalid environment: ${(error as Error).message}`);
  }
  return parsed.data;
}

/**
 * How a serving process authenticates its callers (DESIGN.md 5a): bearer JWTs of trusted issuers,
 * verified against their JWKS. Read when the app is created (a migration Job does not need it).
 */
export const authEnvSchema = z
  .object({
    // Caller authentication (DESIGN.md 5a): bearer JWTs of a trusted issuer, verified against its JWKS.
    /** The issuer whose tokens this service accepts (the cluster's OIDC issuer, or the local dev issuer). */
    AUTH_ISSUER: z.string().min(1),
    /** Its JWKS: a URL (Kubernetes: the API server's /openid/v1/jwks) or a file (local dev keys). */
    AUTH_JWKS_URL: z.url().optional(),
    AUTH_JWKS_FILE: z.string().min(1).optional(),
    /** More trusted issuers, as JSON: [{"issuer": "...", "jwksUrl": "..."}] (people's OIDC next to the cluster's). */
    AUTH_EXTRA_ISSUERS: jsonOf(
      z.array(
        z.object({
          issuer: z.string().min(1),
          jwksUrl: z.url().optional(),
          jwksFile: z.string().min(1).optional(),
        }),
      ),
    ).default([]),
    /** The audience a token must name to be accepted here, e.g. fleetledger-billing. */
    AUTH_AUDIENCE: z.string().min(1),
    AUTH_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
    /** Roles of subjects whose tokens carry no roles claim (service-account tokens), as JSON. */
    AUTH_SUBJECT_ROLES: jsonOf(z.record(z.string(), z.array(roleSchema))).default({}),
    /** Per-principal HTTP rate limit: at most RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_MS. */
    RATE_LIMIT_REQUESTS: z.coerce.number().int().min(1).default(1200),
    RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(100).default(10_000),
  })
  .refine((env) => Boolean(env.AUTH_JWKS_URL) !== Boolean(env.AUTH_JWKS_FILE), {
    message: 'set exactly one of AUTH_JWKS_URL and AUTH_JWKS_FILE',
    path: ['AUTH_JWKS_URL'],
  });

export type AuthEnv = z.infer<typeof authEnvSchema>;

export function parseAuthEnv(env: Record<string, string | undefined>): AuthEnv {
  const parsed = authEnvSchema.safeParse(env);
  if (!parsed.success) throw new ConfigurationError(`invalid environment: ${formatZodError(parsed.error)}`);
  return parsed.data;
}
