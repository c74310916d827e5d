import { INestApplication, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer, Reflector } from '@nestjs/core';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import { ACCESS_METADATA, AccessRule } from '@fleetledger/platform';

export interface DeclaredRoute {
  kind: 'http' | 'kafka';
  /** HTTP: GET, POST, ...; Kafka: the request pattern. */
  method: string;
  /** HTTP: the path with `:params`; Kafka: the pattern. */
  path: string;
  handler: string;
  access: AccessRule | undefined;
}

/**
 * Every handler a Nest app serves (HTTP routes and Kafka message patterns), read from the controllers
 * Nest has loaded, with the access rule it declares (`undefined` if none: the guard refuses it).
 */
export function declaredRoutes(app: INestApplication): DeclaredRoute[] {
  const reflector = new Reflector();
  const routes: DeclaredRoute[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller) continue;
      const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        if (name === 'constructor') continue;
        const handler = (controller.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function') continue;
        const access = reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_METADATA, [
          handler,
          controller,
        ]);
        const patterns = Reflect.getMetadata(PATTERN_METADATA, handler) as unknown[] | undefined;
        if (patterns) {
          for (const pattern of patterns)
            routes.push({
              kind: 'kafka',
              method: String(pattern),
              path: String(pattern),
              handler: `${controller.name}.${name}`,
              access,
            });
          continue;
        }
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
        if (path === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const full = `/${[base, path]
          .map((p) => p.replace(/^\/+|\/+$/g, ''))
          .filter(Boolean)
          .join('/')}`;
        routes.push({ kind: 'http', method, path: full, handler: `${controller.name}.${name}`, access });
      }
    }
  }
  return routes;
}

/** The routes the HTTP server itself has registered (Express' router), to check nothing escapes the table. */
export function expressRoutes(app: INestApplication): { method: string; path: string }[] {
  const instance = app.getHttpAdapter().getInstance() as {
    router?: { stack: ExpressLayer[] };
    _router?: { stack: ExpressLayer[] };
  };
  const stack = (instance.router ?? instance._router)?.stack ?? [];
  return stack
    .filter((layer) => layer.route)
    .flatMap((layer) =>
      Object.keys(layer.route!.methods)
        .filter((method) => method !== '_all')
        .map((method) => ({ method: method.toUpperCase(), path: layer.route!.path })),
    );
}

interface ExpressLayer {
  route?: { path: string; methods: Record<string, boolean> };
}
