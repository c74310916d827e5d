import { z } from 'zod';
import { formatZodError } from '@fleetledger/contracts';
import { KAFKA_SASL_MECHANISMS, kafkaSecurityFromEnv } from '@fleetledger/eventstore/kafka-security';

const booleanFromString = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

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
  try {
    kafkaSecurityFromEnv(parsed.data);
  } catch (error) {
    throw new ConfigurationError(`invalid environment: ${(error as Error).message}`);
  }
  return parsed.data;
}
