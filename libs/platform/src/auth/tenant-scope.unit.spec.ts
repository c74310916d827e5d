import { Principal } from '@fleetledger/contracts';
import { ServiceError } from '../errors';
import { actingTenant, assertTenantAccess } from './tenant-scope';

const tenant: Principal = { subject: 'acme-ci', issuer: 'i', roles: ['tenant'], tenantId: 'acme' };
const finance: Principal = { subject: 'alice', issuer: 'i', roles: ['finance'] };

const outcome = (work: () => unknown): string => {
  try {
    return `ok:${String(work())}`;
  } catch (error) {
    if (error instanceof ServiceError) return `${error.httpStatus}:${error.code}`;
    throw error;
  }
};

describe('the tenant a request acts for', () => {
  it.each([
    ['a tenant naming nobody acts as itself', tenant, undefined, true, 'ok:acme'],
    ['a tenant naming itself', tenant, 'acme', true, 'ok:acme'],
    ['a tenant naming another is refused', tenant, 'globex', true, '403:tenant-mismatch'],
    ['finance acting for a tenant', finance, 'globex', true, 'ok:globex'],
    ['finance must name the tenant where one is needed', finance, undefined, true, '400:tenant-required'],
    ['finance naming nobody on a list means all tenants', finance, undefined, false, 'ok:undefined'],
    ['a tenant naming nobody on a list still sees only itself', tenant, undefined, false, 'ok:acme'],
  ] as const)('%s', (_name, principal, requested, required, expected) => {
    expect(outcome(() => actingTenant(principal, requested, { required }))).toBe(expected);
  });

  it.each([
    ['its own resource', tenant, 'acme', 'ok:undefined'],
    ["another tenant's resource", tenant, 'globex', '403:tenant-mismatch'],
    ['finance on any tenant', finance, 'globex', 'ok:undefined'],
  ] as const)('a caller reaching %s', (_name, principal, owner, expected) => {
    expect(outcome(() => assertTenantAccess(principal, owner, 'workload w-1'))).toBe(expected);
  });
});
