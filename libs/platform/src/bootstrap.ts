import { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule, OpenAPIObject } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { DataSource } from 'typeorm';
import { kafkaSecurityFromEnv } from '@fleetledger/eventstore';
import { parseServiceEnv, ServiceEnv } from './config';
import { prepareServiceSchema, serviceMigrationOptions } from './service-database';
import type { ServiceOptions } from './service-options';
import { SERVICE_ENV } from './tokens';

export function buildOpenApiDocument(app: INestApplication, options: ServiceOptions): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle(options.openApi?.title ?? `FleetLedger ${options.service}`)
    .setDescription(options.openApi?.description ?? '')
    .setVersion('1')
    // Every route but health and metrics needs a bearer JWT (DESIGN.md 5a); each operation's roles
    // are in its description of who may call it (the x-fleetledger-roles extension).
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
    .addSecurityRequirements('bearer')
    .build();
  return cleanupOpenApiDoc(SwaggerModule.createDocument(app, config));
}

/**
 * Creates a service as a Nest hybrid app (HTTP + Kafka request/reply transport), wired the same way
 * in production and in tests. It does not listen yet; call `startService` for that.
 */
export async function createServiceApp(
  module: Type<unknown>,
  options: ServiceOptions,
): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(module, {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  // SIGTERM (Kubernetes, within terminationGracePeriodSeconds) or SIGINT: stop taking requests, let the
  // consumers finish their in-flight batch and commit, drain the relay, close the pool, then exit 0 (1 if
  // the shutdown itself failed). Without useProcessExit Nest re-raises the signal and the pod ends 143.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const env = app.get<ServiceEnv>(SERVICE_ENV);
  app.useBodyParser('json', { limit: env.HTTP_BODY_LIMIT });
  SwaggerModule.setup('docs', app, () => buildOpenApiDocument(app, options), {
    jsonDocumentUrl: 'docs/openapi.json',
  });
  app.connectMicroservice<MicroserviceOptions>(
    {
      transport: Transport.KAFKA,
      options: {
        client: {
          clientId: `fleetledger-${options.service}-rpc`,
          brokers: env.KAFKA_BROKERS,
          ...kafkaSecurityFromEnv(env),
        },
        consumer: {
          groupId: `${env.KAFKA_TOPIC_PREFIX}${options.service}-rpc`,
          sessionTimeout: env.KAFKA_SESSION_TIMEOUT_MS,
          heartbeatInterval: env.KAFKA_HEARTBEAT_INTERVAL_MS,
        },
        producer: { allowAutoTopicCreation: true },
      },
    },
    { inheritAppConfig: true },
  );
  return app;
}

/** Initialises the app (migrations, consumers), then starts the Kafka transport and HTTP. */
export async function startService(app: INestApplication, port?: number): Promise<INestApplication> {
  await app.init();
  await app.startAllMicroservices();
  await app.listen(port ?? app.get<ServiceEnv>(SERVICE_ENV).PORT, '0.0.0.0');
  return app;
}

/** `node main.js --migrate-only`: apply the service's migrations and exit (Kubernetes migration Job). */
export async function runMigrationsOnly(options: ServiceOptions): Promise<void> {
  const env = parseServiceEnv(process.env);
  const dataSource = new DataSource({
    type: 'postgres',
    url: env.DATABASE_URL,
    ...serviceMigrationOptions(options),
  });
  await prepareServiceSchema(env.DATABASE_URL, options.schema);
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    process.stdout.write(
      `${JSON.stringify({ service: options.service, migrationsApplied: applied.map((m) => m.name) })}\n`,
    );
  } finally {
    await dataSource.destroy();
  }
}

/** The whole of a service's main.ts. */
export async function runService(module: Type<unknown>, options: ServiceOptions): Promise<void> {
  if (process.argv.includes('--migrate-only')) {
    await runMigrationsOnly(options);
    return;
  }
  const app = await createServiceApp(module, options);
  await startService(app);
}
