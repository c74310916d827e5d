import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  EventStore,
  createIdempotentProducer,
  createKafka,
  kafkaSecurityFromEnv,
} from '@fleetledger/eventstore';
import { Kafka } from 'kafkajs';
import { LoggerModule } from 'nestjs-pino';
import { ZodValidationPipe } from 'nestjs-zod';
import { v7 as uuidv7 } from 'uuid';
import {
  AuthGuard,
  currentPrincipal,
  PrincipalThrottlerGuard,
  RequestContextInterceptor,
  TokenVerifier,
} from './auth';
import { AuthEnv, parseAuthEnv, parseServiceEnv, ServiceEnv } from './config';
import { HttpErrorFilter } from './errors';
import { ConsumerLagHealthIndicator, HealthController, KafkaHealthIndicator } from './health';
import { Messaging } from './messaging';
import { Metrics, MetricsController } from './metrics';
import { serviceMigrationSetup } from './service-database';
import type { ServiceOptions } from './service-options';
import { AUTH_ENV, KAFKA, PRODUCER, SERVICE_ENV, SERVICE_OPTIONS } from './tokens';

/**
 * Everything a FleetLedger service shares: validated config, JSON logs with correlation ids,
 * TypeORM + migrations on its schema, the event store, Kafka producer/relay/consumers, health,
 * metrics and error mapping. A service module imports `PlatformModule.forService({...})`.
 */
/** Provides the validated environment to the modules the platform configures asynchronously. */
@Module({
  providers: [
    { provide: SERVICE_ENV, useFactory: () => parseServiceEnv(process.env) },
    { provide: AUTH_ENV, useFactory: () => parseAuthEnv(process.env) },
  ],
  exports: [SERVICE_ENV, AUTH_ENV],
})
class ServiceEnvModule {}

@Module({})
export class PlatformModule {
  static forService(options: ServiceOptions): DynamicModule {
    // The environment is read when the app is created, not when this module is imported,
    // so a test can point a service at its own database and topic prefix.
    return {
      module: PlatformModule,
      global: true,
      imports: [
        ServiceEnvModule,
        LoggerModule.forRootAsync({
          imports: [ServiceEnvModule],
          inject: [SERVICE_ENV],
          useFactory: (env: ServiceEnv) => ({
            pinoHttp: {
              level: env.LOG_LEVEL,
              base: { service: options.service },
              genReqId: (req, res) => {
                const header = req.headers['x-correlation-id'];
                const id = (Array.isArray(header) ? header[0] : header) || uuidv7();
                res.setHeader('x-correlation-id', id);
                return id;
              },
              customProps: (req) => ({ correlationId: req.id }),
              autoLogging: {
                ignore: (req) => (req.url ?? '').startsWith('/health') || req.url === '/metrics',
              },
            },
          }),
        }),
        TypeOrmModule.forRootAsync({
          imports: [ServiceEnvModule],
          inject: [SERVICE_ENV],
          useFactory: async (env: ServiceEnv) => ({
            type: 'postgres' as const,
            url: env.DATABASE_URL,
            // Migrations, their history table in the service's own schema, and whether to run them at start.
            ...(await serviceMigrationSetup(env, options)),
            migrationsTransactionMode: 'each' as const,
            synchronize: false,
            extra: {
              max: env.DATABASE_POOL_SIZE,
              application_name: `fleetledger-${options.service}`,
              // The services run short statements whose plans Postgres may cost above jit_above_cost
              // (a JSON batch of thousands of rows): compiling them with LLVM on every execution cost
              // metering's ingestion ~12% of its throughput (bench/metering/ingest-path.bench.ts). Off.
              options: '-c jit=off',
            },
          }),
        }),
        ThrottlerModule.forRootAsync({
          imports: [ServiceEnvModule],
          inject: [AUTH_ENV],
          useFactory: (auth: AuthEnv) => ({
            throttlers: [{ ttl: auth.RATE_LIMIT_WINDOW_MS, limit: auth.RATE_LIMIT_REQUESTS }],
          }),
        }),
        TerminusModule,
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: SERVICE_OPTIONS, useValue: options },
        {
          provide: KAFKA,
          inject: [SERVICE_ENV],
          useFactory: (env: ServiceEnv): Kafka =>
            createKafka({
              brokers: env.KAFKA_BROKERS,
              clientId: `fleetledger-${options.service}`,
              ...kafkaSecurityFromEnv(env),
            }),
        },
        { provide: PRODUCER, inject: [KAFKA], useFactory: (kafka: Kafka) => createIdempotentProducer(kafka) },
        {
          provide: EventStore,
          // Every append records who caused it: the request's verified caller, or the service itself
          // in a consumer or a schedule (both set by the request context).
          useFactory: () => new EventStore(options.schema, options.registry, { principal: currentPrincipal }),
        },
        {
          provide: TokenVerifier,
          inject: [AUTH_ENV],
          useFactory: (auth: AuthEnv) =>
            new TokenVerifier({
              issuers: [
                { issuer: auth.AUTH_ISSUER, jwksUrl: auth.AUTH_JWKS_URL, jwksFile: auth.AUTH_JWKS_FILE },
                ...auth.AUTH_EXTRA_ISSUERS,
              ],
              audience: auth.AUTH_AUDIENCE,
              clockSkewSeconds: auth.AUTH_CLOCK_SKEW_SECONDS,
              subjectRoles: auth.AUTH_SUBJECT_ROLES,
            }),
        },
        // Guards run in this order: who is calling and may they (401/403), then their rate (429).
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: PrincipalThrottlerGuard },
        { provide: APP_INTERCEPTOR, useClass: RequestContextInterceptor },
        { provide: APP_FILTER, useClass: HttpErrorFilter },
        { provide: APP_PIPE, useClass: ZodValidationPipe },
        Metrics,
        KafkaHealthIndicator,
        ConsumerLagHealthIndicator,
        Messaging,
      ],
      exports: [ServiceEnvModule, SERVICE_OPTIONS, KAFKA, PRODUCER, EventStore, Metrics, Messaging],
    };
  }
}

export type { ServiceEnv };
