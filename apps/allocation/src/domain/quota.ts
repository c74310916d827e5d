import { allocation, NewEvent, newEvent } from '@fleetledger/contracts';
import { reject, Rejection } from './rejection';

type GpuClass = allocation.GpuClass;
type WorkloadClass = allocation.WorkloadClass;

export interface QuotaLimit {
  nominal: number;
  borrowLimit: number;
}

/** Quotas of one tenant (the `quota-<tenantId>` stream), keyed `gpuClass/workloadClass`. */
export type TenantQuotas = ReadonlyMap<string, QuotaLimit>;

export const NO_QUOTA: QuotaLimit = { nominal: 0, borrowLimit: 0 };

export function quotaKey(gpuClass: GpuClass, workloadClass: WorkloadClass): string {
  return `${gpuClass}/${workloadClass}`;
}

export function quotaOf(
  quotas: TenantQuotas | undefined,
  gpuClass: GpuClass,
  workloadClass: WorkloadClass,
): QuotaLimit {
  return quotas?.get(quotaKey(gpuClass, workloadClass)) ?? NO_QUOTA;
}

export type QuotaCommand =
  | { kind: 'set'; nominal: number; borrowLimit: number }
  /** "limits doubled" = factor 2, "throughput x15" = factor 15; both limits scale, rounded down. */
  | { kind: 'multiply'; factor: number };

export interface ChangeQuota {
  tenantId: string;
  gpuClass: GpuClass;
  workloadClass: WorkloadClass;
  change: QuotaCommand;
  reason: string;
  author: string;
  at: string;
}

export function decideQuotaChange(
  quotas: TenantQuotas,
  command: ChangeQuota,
): NewEvent[] | Rejection<'invalid' | 'unchanged'> {
  const previous = quotaOf(quotas, command.gpuClass, command.workloadClass);
  let next: QuotaLimit;
  if (command.change.kind === 'set') {
    const { nominal, borrowLimit } = command.change;
    if (![nominal, borrowLimit].every((n) => Number.isSafeInteger(n) && n >= 0)) {
      return reject('invalid', 'nominal and borrowLimit must be whole numbers of GPUs >= 0');
    }
    next = { nominal, borrowLimit };
  } else {
    const { factor } = command.change;
    if (!(factor > 0) || !Number.isFinite(factor))
      return reject('invalid', `factor must be positive, got ${factor}`);
    if (previous.nominal === 0 && previous.borrowLimit === 0) {
      return reject(
        'invalid',
        `no quota to multiply for ${command.tenantId} ${quotaKey(command.gpuClass, command.workloadClass)}`,
      );
    }
    next = {
      nominal: Math.floor(previous.nominal * factor),
      borrowLimit: Math.floor(previous.borrowLimit * factor),
    };
  }
  if (next.nominal === previous.nominal && next.borrowLimit === previous.borrowLimit) {
    return reject('unchanged', 'the quota already has these limits');
  }
  const change: allocation.QuotaChange =
    command.change.kind === 'set' ? { kind: 'set' } : { kind: 'multiply', factor: command.change.factor };
  return [
    newEvent(
      allocation.QuotaChanged,
      {
        tenantId: command.tenantId,
        gpuClass: command.gpuClass,
        workloadClass: command.workloadClass,
        nominal: next.nominal,
        borrowLimit: next.borrowLimit,
        previous,
        change,
        changedAt: command.at,
        reason: command.reason,
        author: command.author,
      },
      command.at,
    ),
  ];
}

export function evolveQuotas(quotas: TenantQuotas, event: allocation.AllocationEvent): TenantQuotas {
  if (event.type !== allocation.QuotaChanged.type) return quotas;
  const p = event.payload;
  const next = new Map(quotas);
  next.set(quotaKey(p.gpuClass, p.workloadClass), { nominal: p.nominal, borrowLimit: p.borrowLimit });
  return next;
}
