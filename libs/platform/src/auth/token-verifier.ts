import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  errors as joseErrors,
  JSONWebKeySet,
  JWTPayload,
  jwtVerify,
} from 'jose';
import { Principal, Role, roleSchema } from '@fleetledger/contracts';

/** One issuer whose tokens a service accepts, and where its signing keys are published. */
export interface TrustedIssuer {
  issuer: string;
  /** A JWKS URL (the Kubernetes API server's, an OIDC provider's) or a JWKS file (local dev). */
  jwksUrl?: string;
  jwksFile?: string;
}

export interface TokenVerifierOptions {
  issuers: readonly TrustedIssuer[];
  /** This service's audience: a token minted for another service is refused. */
  audience: string;
  clockSkewSeconds: number;
  /**
   * Roles for subjects whose tokens carry no `roles` claim, such as Kubernetes service-account tokens
   * (`system:serviceaccount:fleetledger:billing` -> ['service']).
   */
  subjectRoles?: Readonly<Record<string, readonly Role[]>>;
}

export type TokenRefusal =
  | 'missing-token'
  | 'malformed-token'
  | 'untrusted-issuer'
  | 'bad-signature'
  | 'expired'
  | 'wrong-audience'
  | 'invalid-claims';

/** Why a token was refused, for the 401 body. Never carries the token itself. */
export class TokenRefusedError extends Error {
  constructor(
    readonly reason: TokenRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'TokenRefusedError';
  }
}

type KeySet = ReturnType<typeof createLocalJWKSet>;

const CACHE_LIMIT = 10_000;

/**
 * Verifies bearer JWTs with `jose`: signature against the issuer's JWKS, issuer, audience, expiry
 * (with a small clock skew), then maps the claims to a Principal: `sub`, `iss`, `roles` (array) and
 * `tenant` (required for the tenant role). Verified tokens are cached until they expire, so a caller
 * that sends the same token on every request pays for the signature once.
 */
export class TokenVerifier {
  private readonly keySets = new Map<string, KeySet>();
  private readonly cache = new Map<string, { principal: Principal; expiresAtMs: number }>();

  constructor(private readonly options: TokenVerifierOptions) {
    for (const trusted of options.issuers) this.keySets.set(trusted.issuer, keySetOf(trusted));
  }

  async verify(token: string | undefined, nowMs = Date.now()): Promise<Principal> {
    if (!token)
      throw new TokenRefusedError('missing-token', 'send a bearer token: Authorization: Bearer <jwt>');
    const cached = this.cache.get(token);
    if (cached && cached.expiresAtMs + this.options.clockSkewSeconds * 1000 > nowMs) return cached.principal;
    if (cached) this.cache.delete(token);

    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new TokenRefusedError('malformed-token', 'the bearer token is not a JWT');
    }
    const keySet = typeof unverified.iss === 'string' ? this.keySets.get(unverified.iss) : undefined;
    if (!keySet)
      throw new TokenRefusedError(
        'untrusted-issuer',
        `tokens of issuer ${String(unverified.iss)} are not accepted`,
      );

    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keySet, {
        issuer: unverified.iss,
        audience: this.options.audience,
        clockTolerance: this.options.clockSkewSeconds,
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      throw refusalOf(error, this.options.audience);
    }
    const principal = this.principalOf(claims);
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(token, { principal, expiresAtMs: claims.exp! * 1000 });
    return principal;
  }

  private principalOf(claims: JWTPayload): Principal {
    const subject = claims.sub!;
    const claimed = Array.isArray(claims.roles) ? claims.roles : [];
    const roles = new Set<Role>(this.options.subjectRoles?.[subject] ?? []);
    for (const role of claimed) {
      const parsed = roleSchema.safeParse(role);
      if (parsed.success) roles.add(parsed.data);
    }
    const tenant = typeof claims.tenant === 'string' && claims.tenant.length > 0 ? claims.tenant : undefined;
    if (roles.has('tenant') && !tenant)
      throw new TokenRefusedError(
        'invalid-claims',
        'a token with the tenant role must name its tenant (claim "tenant")',
      );
    return {
      subject,
      issuer: claims.iss!,
      roles: [...roles].sort(),
      ...(tenant ? { tenantId: tenant } : {}),
    };
  }
}

function keySetOf(trusted: TrustedIssuer): KeySet {
  if (trusted.jwksFile) {
    const jwks = JSON.parse(readFileSync(trusted.jwksFile, 'utf8')) as JSONWebKeySet;
    return createLocalJWKSet(jwks);
  }
  if (trusted.jwksUrl) return createRemoteJWKSet(new URL(trusted.jwksUrl)) as unknown as KeySet;
  throw new Error(`issuer ${trusted.issuer}: give a JWKS URL or file`);
}

function refusalOf(error: unknown, audience: string): TokenRefusedError {
  if (error instanceof joseErrors.JWTExpired)
    return new TokenRefusedError('expired', 'the token has expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud')
      return new TokenRefusedError(
        'wrong-audience',
        `the token is not for this service (audience ${audience})`,
      );
    return new TokenRefusedError('invalid-claims', `claim ${error.claim}: ${error.reason}`);
  }
  if (
    error instanceof joseErrors.JWSSignatureVerificationFailed ||
    error instanceof joseErrors.JWKSNoMatchingKey ||
    error instanceof joseErrors.JWSInvalid
  )
    return new TokenRefusedError(
      'bad-signature',
      'the token signature does not verify against the issuer keys',
    );
  return new TokenRefusedError(
    'malformed-token',
    `the token cannot be verified: ${(error as Error).message}`,
  );
}
