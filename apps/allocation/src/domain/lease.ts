import { allocation, NewEvent, newEvent } from '@fleetledger/contracts';
import { reject, Rejection } from './rejection';

type GpuClass = allocation.GpuClass;

export interface Lease {
  leaseId: string;
  tenantId: string;
  term: allocation.LeaseTerm;
  committedGpus: allocation.CommittedGpus;
  exclusivity: allocation.Exclusivity;
  scope: allocation.LeaseScope;
  /** Racks the scope resolved to when signed or amended (fenced while the lease is active). */
  status: 'signed' | 'active' | 'terminated' | 'expired';
  ratePlanId: string;
  terminatedAt?: string;
}

/** Every lease, in one stream (`lease-book`), so cross-lease rules are checked against one consistent state. */
export type LeaseBook = ReadonlyMap<string, Lease>;

/** What the lease rules need to know about the fleet (the capacity view answers it). */
export interface FleetFacts {
  installedGpus(): Record<GpuClass, number>;
  scopeCapacity(scope: allocation.LeaseScope): { rackIds: string[]; gpus: Record<GpuClass, number> };
}

export type LeaseRejectionReason =
  | 'unknown-lease'
  | 'duplicate'
  | 'invalid'
  | 'exclusive-overlap'
  | 'beyond-fleet'
  | 'beyond-scope'
  | 'wrong-status';

interface LeaseTerms {
  tenantId: string;
  term: allocation.LeaseTerm;
  committedGpus: allocation.CommittedGpus;
  exclusivity: allocation.Exclusivity;
  scope: allocation.LeaseScope;
  ratePlanId: string;
}

export type LeaseCommand =
  | ({ kind: 'sign'; leaseId: string; author: string; at: string } & LeaseTerms)
  | { kind: 'activate'; leaseId: string; author: string; at: string }
  | {
      kind: 'amend';
      leaseId: string;
      term: allocation.LeaseTerm;
      committedGpus: allocation.CommittedGpus;
      scope?: allocation.LeaseScope;
      ratePlanId?: string;
      reason: string;
      author: string;
      at: string;
    }
  | { kind: 'terminate'; leaseId: string; reason: string; author: string; at: string };

const ms = (iso: string) => Date.parse(iso);

/** The end of a lease's effect: its term end, or its termination if earlier. */
export function effectiveEnd(lease: Lease): number {
  return lease.terminatedAt ? Math.min(ms(lease.term.end), ms(lease.terminatedAt)) : ms(lease.term.end);
}

/** A lease places workloads at `at` when active and `at` is inside [start, effective end). */
export function leaseInForce(lease: Lease, at: string): boolean {
  const t = ms(at);
  return lease.status === 'active' && ms(lease.term.start) <= t && t < effectiveEnd(lease);
}

/** Over at `at`: terminated, expired, or its term has run out (whether or not the expiry sweep recorded it yet). */
export function leaseEnded(lease: Lease, at: string): boolean {
  return lease.status === 'terminated' || lease.status === 'expired' || effectiveEnd(lease) <= ms(at);
}

/**
 * An exclusive lease whose fence still stands in the state (active) but whose term is over at `at`:
 * its racks no longer keep other tenants out, even before the expiry sweep lifts the fence.
 */
export function fenceLapsed(lease: Lease, at: string): boolean {
  return lease.exclusivity === 'exclusive' && lease.status === 'active' && effectiveEnd(lease) <= ms(at);
}

/**
 * The expiry sweep (an operator or a cron calls it; `at` is its time): every signed or active lease
 * whose term ended at or before `at` expires, in lease id order. Nothing due is no events, not a rejection.
 */
export function decideExpireDue(book: LeaseBook, at: string, author: string): NewEvent[] {
  return [...book.values()]
    .filter((l) => (l.status === 'signed' || l.status === 'active') && ms(l.term.end) <= ms(at))
    .sort((a, b) => a.leaseId.localeCompare(b.leaseId))
    .map((l) =>
      newEvent(
        allocation.LeaseExpired,
        { leaseId: l.leaseId, tenantId: l.tenantId, termEnd: l.term.end, expiredAt: at, author },
        at,
      ),
    );
}

function overlaps(a: { start: number; end: number }, b: { start: number; end: number }): boolean {
  return a.start < b.end && b.start < a.end;
}

function checkTerms(
  book: LeaseBook,
  leaseId: string,
  terms: LeaseTerms,
  fleet: FleetFacts,
): Rejection<LeaseRejectionReason> | null {
  const window = { start: ms(terms.term.start), end: ms(terms.term.end) };
  if (!(window.start < window.end)) return reject('invalid', 'term.start must be before term.end');
  for (const [gpuClass, count] of Object.entries(terms.committedGpus)) {
    if (!Number.isSafeInteger(count) || (count ?? 0) < 0)
      return reject('invalid', `committed ${gpuClass} must be a whole number >= 0`);
  }
  const scoped = terms.scope.hallIds.length + terms.scope.rackIds.length > 0;
  if (terms.exclusivity === 'shared' && scoped)
    return reject('invalid', 'a shared lease fences no capacity: leave scope empty');

  const others = [...book.values()].filter(
    (l) =>
      l.leaseId !== leaseId &&
      l.status !== 'terminated' &&
      overlaps(window, { start: ms(l.term.start), end: effectiveEnd(l) }),
  );

  if (terms.exclusivity === 'exclusive') {
    if (!scoped) return reject('invalid', 'an exclusive lease names the halls or racks it fences off');
    const capacity = fleet.scopeCapacity(terms.scope);
    for (const [gpuClass, count] of Object.entries(terms.committedGpus) as [GpuClass, number][]) {
      if (count > capacity.gpus[gpuClass]) {
        return reject(
          'beyond-scope',
          `${count} ${gpuClass} committed but the fenced racks hold ${capacity.gpus[gpuClass]}`,
        );
      }
    }
    const mine = new Set(capacity.rackIds);
    for (const other of others.filter((l) => l.exclusivity === 'exclusive')) {
      const clash = fleet.scopeCapacity(other.scope).rackIds.filter((r) => mine.has(r));
      if (clash.length > 0) {
        return reject(
          'exclusive-overlap',
          `exclusive lease ${other.leaseId} of ${other.tenantId} already holds ${clash.slice(0, 3).join(', ')}${clash.length > 3 ? ` (+${clash.length - 3})` : ''} during that term`,
        );
      }
    }
  }

  // Commitments beyond the fleet: at every instant of the term, what all leases commit fits what is installed.
  const installed = fleet.installedGpus();
  const instants = [
    window.start,
    ...others.map((l) => ms(l.term.start)).filter((t) => t > window.start && t < window.end),
  ];
  for (const [gpuClass, count] of Object.entries(terms.committedGpus) as [GpuClass, number][]) {
    if (!count) continue;
    for (const t of instants) {
      const committed = others
        .filter((l) => ms(l.term.start) <= t && t < effectiveEnd(l))
        .reduce((sum, l) => sum + (l.committedGpus[gpuClass] ?? 0), count);
      if (committed > installed[gpuClass]) {
        return reject(
          'beyond-fleet',
          `${committed} ${gpuClass} committed at ${new Date(t).toISOString()} but the fleet has ${installed[gpuClass]}`,
        );
      }
    }
  }
  return null;
}

export function decideLease(
  book: LeaseBook,
  command: LeaseCommand,
  fleet: FleetFacts,
): NewEvent[] | Rejection<LeaseRejectionReason> {
  const lease = book.get(command.leaseId);
  switch (command.kind) {
    case 'sign': {
      if (lease) return reject('duplicate', `lease ${command.leaseId} exists`);
      const problem = checkTerms(book, command.leaseId, command, fleet);
      if (problem) return problem;
      return [
        newEvent(
          allocation.LeaseSigned,
          {
            leaseId: command.leaseId,
            tenantId: command.tenantId,
            term: command.term,
            committedGpus: command.committedGpus,
            exclusivity: command.exclusivity,
            scope: command.scope,
            ratePlanId: command.ratePlanId,
            signedAt: command.at,
            author: command.author,
          },
          command.at,
        ),
      ];
    }
    case 'activate': {
      if (!lease) return reject('unknown-lease', `no lease ${command.leaseId}`);
      if (lease.status !== 'signed')
        return reject('wrong-status', `lease ${command.leaseId} is ${lease.status}`);
      if (lease.exclusivity === 'exclusive') {
        // Activation fences the racks at once: not while another exclusive lease still holds them.
        const mine = new Set(fleet.scopeCapacity(lease.scope).rackIds);
        for (const other of book.values()) {
          if (other.exclusivity !== 'exclusive' || other.status !== 'active') continue;
          if (effectiveEnd(other) <= ms(command.at)) continue;
          const clash = fleet.scopeCapacity(other.scope).rackIds.filter((r) => mine.has(r));
          if (clash.length > 0)
            return reject(
              'exclusive-overlap',
              `exclusive lease ${other.leaseId} holds ${clash.slice(0, 3).join(', ')} until ${new Date(effectiveEnd(other)).toISOString()}: activate at or after that`,
            );
        }
      }
      return [
        newEvent(
          allocation.LeaseActivated,
          {
            leaseId: lease.leaseId,
            tenantId: lease.tenantId,
            activatedAt: command.at,
            author: command.author,
          },
          command.at,
        ),
      ];
    }
    case 'amend': {
      if (!lease) return reject('unknown-lease', `no lease ${command.leaseId}`);
      if (lease.status === 'terminated' || lease.status === 'expired')
        return reject('wrong-status', `lease ${command.leaseId} is ${lease.status}: sign a new lease`);
      const terms: LeaseTerms = {
        ...lease,
        term: command.term,
        committedGpus: command.committedGpus,
        scope: command.scope ?? lease.scope,
        ratePlanId: command.ratePlanId ?? lease.ratePlanId,
      };
      const problem = checkTerms(book, lease.leaseId, terms, fleet);
      if (problem) return problem;
      return [
        newEvent(
          allocation.LeaseAmended,
          {
            leaseId: lease.leaseId,
            tenantId: lease.tenantId,
            term: terms.term,
            committedGpus: terms.committedGpus,
            scope: terms.scope,
            ratePlanId: terms.ratePlanId,
            previous: { term: lease.term, committedGpus: lease.committedGpus, ratePlanId: lease.ratePlanId },
            effectiveAt: command.at,
            reason: command.reason,
            author: command.author,
          },
          command.at,
        ),
      ];
    }
    case 'terminate':
      if (!lease) return reject('unknown-lease', `no lease ${command.leaseId}`);
      if (lease.status === 'terminated' || lease.status === 'expired')
        return reject('wrong-status', `lease ${command.leaseId} is already ${lease.status}`);
      return [
        newEvent(
          allocation.LeaseTerminated,
          {
            leaseId: lease.leaseId,
            tenantId: lease.tenantId,
            terminatedAt: command.at,
            reason: command.reason,
            author: command.author,
          },
          command.at,
        ),
      ];
  }
}

export function evolveLeases(book: LeaseBook, event: allocation.AllocationEvent): LeaseBook {
  const next = new Map(book);
  switch (event.type) {
    case allocation.LeaseSigned.type: {
      const p = event.payload;
      next.set(p.leaseId, {
        leaseId: p.leaseId,
        tenantId: p.tenantId,
        term: p.term,
        committedGpus: p.committedGpus,
        exclusivity: p.exclusivity,
        scope: p.scope,
        ratePlanId: p.ratePlanId,
        status: 'signed',
      });
      return next;
    }
    case allocation.LeaseActivated.type: {
      const p = event.payload;
      const lease = book.get(p.leaseId);
      if (lease) next.set(p.leaseId, { ...lease, status: 'active' });
      return next;
    }
    case allocation.LeaseAmended.type: {
      const p = event.payload;
      const lease = book.get(p.leaseId);
      if (lease)
        next.set(p.leaseId, {
          ...lease,
          term: p.term,
          committedGpus: p.committedGpus,
          scope: p.scope,
          ratePlanId: p.ratePlanId,
        });
      return next;
    }
    case allocation.LeaseTerminated.type: {
      const p = event.payload;
      const lease = book.get(p.leaseId);
      if (lease) next.set(p.leaseId, { ...lease, status: 'terminated', terminatedAt: p.terminatedAt });
      return next;
    }
    case allocation.LeaseExpired.type: {
      const p = event.payload;
      const lease = book.get(p.leaseId);
      if (lease) next.set(p.leaseId, { ...lease, status: 'expired' });
      return next;
    }
    default:
      return book;
  }
}
