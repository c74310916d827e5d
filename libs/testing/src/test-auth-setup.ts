import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Role } from '@fleetledger/contracts';
// jest runs the global setup without the path aliases of the test projects, so this one file
// reaches the dev issuer by its path. Everything else uses @fleetledger/platform.
// eslint-disable-next-line no-restricted-imports
import {
  DEV_ISSUER,
  ensureDevIssuer,
  mintToken,
  readPrivateJwk,
  serviceAudience,
  SERVICE_NAMES,
} from '../../platform/src/auth/dev-issuer';

/**
 * Test callers. jest's global setup makes a throw-away issuer (an ES256 key pair in a temp dir) and
 * a long-lived "test caller" token with the operator, finance, telemetry-agent and service roles for
 * all four services, and hands both to every test file through the environment. Services under test
 * trust that issuer (startTestService); tests that are about something else call them as the test
 * caller, tests about access mint the exact token they need.
 */
export const TEST_AUTH_ENV = {
  jwksFile: 'TEST_AUTH_JWKS_FILE',
  privateKeyFile: 'TEST_AUTH_PRIVATE_KEY_FILE',
  callerToken: 'TEST_AUTH_CALLER_TOKEN',
} as const;

export const TEST_CALLER_ROLES: readonly Role[] = ['finance', 'operator', 'service', 'telemetry-agent'];

/** Global setup: creates the test issuer and the test caller's token (idempotent per run). */
export async function prepareTestAuth(): Promise<void> {
  if (process.env[TEST_AUTH_ENV.callerToken]) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'fleetledger-test-auth-'));
  const files = await ensureDevIssuer(dir, DEV_ISSUER);
  process.env[TEST_AUTH_ENV.jwksFile] = files.jwksFile;
  process.env[TEST_AUTH_ENV.privateKeyFile] = files.privateKeyFile;
  process.env[TEST_AUTH_ENV.callerToken] = await mintToken(readPrivateJwk(files.privateKeyFile), {
    roles: TEST_CALLER_ROLES,
    subject: 'test-caller',
    // the four services and the platform's worked example (libs/testing/src/example-service)
    audience: [...SERVICE_NAMES, 'example'].map(serviceAudience),
    expiresInSeconds: 6 * 3600,
  });
}
