import { allocation } from '@fleetledger/contracts';

/** A decision that produced no events, with the reason in the domain's words (STYLE.md, "Rejections are values"). */
export interface Rejection<R extends string = string> {
  kind: 'rejected';
  reason: R;
  detail: string;
}

export type PlacementRejectionReason = allocation.RejectionReason;

export function reject<R extends string>(reason: R, detail: string): Rejection<R> {
  return { kind: 'rejected', reason, detail };
}

export function isRejection(value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'rejected';
}
