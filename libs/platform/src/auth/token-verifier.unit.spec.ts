import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, JWK, SignJWT } from 'jose';
import { ensureDevIssuer, mintToken, readPrivateJwk } from './dev-issuer';
import { TokenRefusedError, TokenVerifier } from './token-verifier';

/** The verifier on its own: real keys and signatures (jose), no Nest, no network. */
describe('TokenVerifier', () => {
  const issuer = 'https://issuer.test';
  let privateJwk: JWK;
  let verifier: TokenVerifier;
  const now = Date.parse('2026-12-06T12:00:00Z');
  const sign = (
    claims: Record<string, unknown>,
    options: { exp?: number; aud?: string; iss?: string; key?: JWK } = {},
  ) =>
    mintWith(options.key ?? privateJwk, {
      claims,
      exp: options.exp ?? now / 1000 + 600,
      aud: options.aud ?? 'fleetledger-billing',
      iss: options.iss ?? issuer,
    });

  beforeAll(async () => {
    const files = await ensureDevIssuer(mkdtempSync(path.join(tmpdir(), 'verifier-')), issuer);
    privateJwk = readPrivateJwk(files.privateKeyFile);
    verifier = new TokenVerifier({
      issuers: [{ issuer, jwksFile: files.jwksFile }],
      audience: 'fleetledger-billing',
      clockSkewSeconds: 30,
      subjectRoles: { 'system:serviceaccount:fleetledger:metering': ['service'] },
    });
  });

  const refusal = async (token: string | undefined): Promise<string> => {
    try {
      await verifier.verify(token, now);
      return 'accepted';
    } catch (error) {
      if (error instanceof TokenRefusedError) return error.reason;
      throw error;
    }
  };

  it.each([
    [
      'a finance token',
      { sub: 'alice', roles: ['finance'] },
      { subject: 'alice', issuer, roles: ['finance'] },
    ],
    [
      'a tenant token names its tenant',
      { sub: 'acme-ci', roles: ['tenant'], tenant: 'acme' },
      { subject: 'acme-ci', issuer, roles: ['tenant'], tenantId: 'acme' },
    ],
    [
      'unknown roles are ignored, known ones kept in order',
      { sub: 'bob', roles: ['root', 'operator', 'finance'] },
      { subject: 'bob', issuer, roles: ['finance', 'operator'] },
    ],
    [
      'a service-account token gets its roles from the subject map',
      { sub: 'system:serviceaccount:fleetledger:metering' },
      { subject: 'system:serviceaccount:fleetledger:metering', issuer, roles: ['service'] },
    ],
  ])('accepts %s', async (_name, claims, principal) => {
    expect(await verifier.verify(await sign(claims), now)).toEqual(principal);
  });

  it.each([
    ['no token', async (): Promise<string | undefined> => undefined, 'missing-token'],
    ['not a JWT', async (): Promise<string | undefined> => 'hello', 'malformed-token'],
    [
      'another issuer',
      () => sign({ sub: 'x', roles: ['operator'] }, { iss: 'https://evil.test' }),
      'untrusted-issuer',
    ],
    [
      'another audience',
      () => sign({ sub: 'x', roles: ['operator'] }, { aud: 'fleetledger-inventory' }),
      'wrong-audience',
    ],
    [
      'expired a minute ago (skew is 30 s)',
      () => sign({ sub: 'x', roles: ['operator'] }, { exp: now / 1000 - 60 }),
      'expired',
    ],
    ['a tenant token with no tenant', () => sign({ sub: 'x', roles: ['tenant'] }), 'invalid-claims'],
  ] as const)('refuses %s', async (_name, token, reason) => {
    expect(await refusal(await token())).toBe(reason);
  });

  it('accepts a token that expired within the clock skew', async () => {
    expect(await refusal(await sign({ sub: 'x', roles: ['operator'] }, { exp: now / 1000 - 10 }))).toBe(
      'accepted',
    );
  });

  it('refuses a token signed by a key the issuer never published, even under its key id', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const forged = { ...(await exportJWK(privateKey)), kid: privateJwk.kid, alg: 'ES256' };
    expect(await refusal(await sign({ sub: 'x', roles: ['operator'] }, { key: forged }))).toBe(
      'bad-signature',
    );
  });

  it('refuses a cached token once it expires', async () => {
    const token = await sign({ sub: 'x', roles: ['operator'] }, { exp: now / 1000 + 5 });
    expect(await verifier.verify(token, now)).toMatchObject({ subject: 'x' });
    expect(await verifier.verify(token, now + 20_000)).toMatchObject({ subject: 'x' }); // within the skew
    await expect(verifier.verify(token, now + 60_000)).rejects.toMatchObject({ reason: 'expired' });
  });

  it('mints dev tokens the verifier accepts for the audience asked', async () => {
    const token = await mintToken(privateJwk, {
      roles: ['tenant'],
      tenant: 'acme',
      audience: 'fleetledger-billing',
      issuer,
    });
    expect(await verifier.verify(token)).toMatchObject({ roles: ['tenant'], tenantId: 'acme' });
  });
});

async function mintWith(
  key: JWK,
  token: { claims: Record<string, unknown>; exp: number; aud: string; iss: string },
): Promise<string> {
  const { sub, ...claims } = token.claims;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid })
    .setIssuer(token.iss)
    .setAudience(token.aud)
    .setExpirationTime(Math.floor(token.exp));
  if (typeof sub === 'string') jwt.setSubject(sub);
  const { importJWK } = await import('jose');
  return jwt.sign(await importJWK(key, 'ES256'));
}
