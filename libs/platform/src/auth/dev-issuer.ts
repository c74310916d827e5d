import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair, importJWK, JWK, SignJWT } from 'jose';
import type { Role } from '@fleetledger/contracts';

/**
 * The local development issuer: an ES256 key pair generated on this machine (never committed), its
 * public half as a JWKS file the services trust, its private half to mint tokens for people and
 * tools (`npm run token`). In Kubernetes the cluster's OIDC issuer replaces it (docs/deploy.md).
 */
export const DEV_ISSUER = 'fleetledger-dev';

export interface DevIssuerFiles {
  issuer: string;
  jwksFile: string;
  privateKeyFile: string;
}

/** The audience a service accepts tokens for. */
export function serviceAudience(service: string): string {
  return `fleetledger-${service}`;
}

export const SERVICE_NAMES = ['inventory', 'allocation', 'metering', 'billing'] as const;

/** Creates the key pair under `dir` once (mode 600 for the private key); later calls reuse it. */
export async function ensureDevIssuer(dir: string, issuer = DEV_ISSUER): Promise<DevIssuerFiles> {
  const files = {
    issuer,
    jwksFile: path.join(dir, 'jwks.json'),
    privateKeyFile: path.join(dir, 'signing-key.jwk.json'),
  };
  if (existsSync(files.jwksFile) && existsSync(files.privateKeyFile)) return files;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' };
  writeFileSync(files.jwksFile, JSON.stringify({ keys: [publicJwk] }, null, 2));
  writeFileSync(files.privateKeyFile, JSON.stringify(privateJwk), { mode: 0o600 });
  return files;
}

export interface TokenRequest {
  roles: readonly Role[];
  tenant?: string;
  subject?: string;
  /** One service's audience, or several (a token for a caller of all four services). */
  audience?: string | readonly string[];
  /** Seconds until it expires (negative: already expired, for tests). Default one hour. */
  expiresInSeconds?: number;
  issuer?: string;
}

/** Signs a token with a private JWK (the dev issuer's, or a test's own). */
export async function mintToken(privateJwk: JWK, request: TokenRequest): Promise<string> {
  const key = await importJWK(privateJwk, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = request.expiresInSeconds ?? 3600;
  return new SignJWT({ roles: [...request.roles], ...(request.tenant ? { tenant: request.tenant } : {}) })
    .setProtectedHeader({ alg: 'ES256', ...(privateJwk.kid ? { kid: privateJwk.kid } : {}), typ: 'JWT' })
    .setIssuer(request.issuer ?? DEV_ISSUER)
    .setSubject(request.subject ?? `${request.roles.join('+')}${request.tenant ? `@${request.tenant}` : ''}`)
    .setAudience(
      typeof request.audience === 'string'
        ? request.audience
        : [...(request.audience ?? SERVICE_NAMES.map(serviceAudience))],
    )
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(key);
}

export function readPrivateJwk(file: string): JWK {
  return JSON.parse(readFileSync(file, 'utf8')) as JWK;
}
