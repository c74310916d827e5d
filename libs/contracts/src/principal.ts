import { z } from 'zod';

/**
 * Who may do what (DESIGN.md section 5a). A caller's roles come from its verified token; a route or a
 * Kafka request declares the roles it admits, and anything undeclared is refused.
 */
export const ROLES = ['operator', 'tenant', 'telemetry-agent', 'finance', 'service'] as const;
export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;

/**
 * The authenticated cause of a command, recorded in the metadata of every event it appends (inside
 * the hashed envelope, so the hash chain covers it). `tenantId` is the tenant acted for: a tenant's
 * own, or the one an operator, finance or a service acted on behalf of.
 */
export const principalSchema = z.object({
  subject: z.string().min(1),
  issuer: z.string().min(1),
  roles: z.array(roleSchema),
  tenantId: z.string().min(1).optional(),
});
export type Principal = z.infer<typeof principalSchema>;

/** Issuer of the principals a service uses for what it does on its own (consumers, schedules). */
export const SERVICE_PRINCIPAL_ISSUER = 'fleetledger:service';

/** The principal of a service acting on its own: consuming an event, or running a scheduled command. */
export function servicePrincipal(service: string): Principal {
  return { subject: `service:${service}`, issuer: SERVICE_PRINCIPAL_ISSUER, roles: ['service'] };
}

/** One line for logs, audit output and reports: `finance:alice@example (acme)`. */
export function describePrincipal(principal: Principal | undefined): string {
  if (!principal) return '(no principal recorded)';
  const tenant = principal.tenantId ? ` for ${principal.tenantId}` : '';
  return `${principal.subject} [${principal.roles.join(',')}]${tenant}`;
}
