import request from 'supertest';
import { JWK } from 'jose';
import { DEV_ISSUER, mintToken, readPrivateJwk, serviceAudience, TokenRequest } from '@fleetledger/platform';
import { TEST_AUTH_ENV } from './test-auth-setup';

export { TEST_AUTH_ENV, TEST_CALLER_ROLES } from './test-auth-setup';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run integration tests through jest (global setup)`);
  return value;
}

/** The environment a service under test needs to trust the test issuer. */
export function testAuthEnv(service: string): Record<string, string> {
  return {
    AUTH_ISSUER: DEV_ISSUER,
    AUTH_JWKS_FILE: required(TEST_AUTH_ENV.jwksFile),
    AUTH_AUDIENCE: serviceAudience(service),
  };
}

/** A token signed by the test issuer (or by `signWith`, e.g. a key the services do not trust). */
export function testToken(token: TokenRequest, signWith?: JWK): Promise<string> {
  return mintToken(signWith ?? readPrivateJwk(required(TEST_AUTH_ENV.privateKeyFile)), token);
}

/** The token of the all-purpose test caller (operator, finance, telemetry agent, service). */
export function testCallerToken(): string {
  return required(TEST_AUTH_ENV.callerToken);
}

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Http = Record<Method, (path: string) => request.Test>;

/** supertest against `url`, every request carrying `token` (none: an anonymous caller). */
export function httpAs(url: string, token: string | undefined): Http {
  const agent = request(url);
  const call = (method: Method) => (route: string) => {
    const test = agent[method](route);
    return token ? test.set('authorization', `Bearer ${token}`) : test;
  };
  return {
    get: call('get'),
    post: call('post'),
    put: call('put'),
    patch: call('patch'),
    delete: call('delete'),
  };
}

/** supertest against `url` as the test caller: `api(service.url).post('/leases').send(...)`. */
export function api(url: string): Http {
  return httpAs(url, testCallerToken());
}
