/**
 * A decision that produced no events, with the reason in the domain's words (STYLE.md, "Rejections
 * are values"). Every service's domain returns these; its error taxonomy (libs/platform
 * `ErrorTaxonomy`) maps each reason to an HTTP status at the edge.
 */
export interface Rejection<R extends string = string> {
  kind: 'rejected';
  reason: R;
  detail: string;
}

export function reject<R extends string>(reason: R, detail: string): Rejection<R> {
  return { kind: 'rejected', reason, detail };
}

/** Whether a decision is a rejection (a decision is events, a value, or a rejection). */
export function isRejection<R extends string = string>(value: unknown): value is Rejection<R> {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'rejected';
}
