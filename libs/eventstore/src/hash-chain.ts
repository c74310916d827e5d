import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/** The fields of a stored event that the hash chain covers. */
export interface HashedEventFields {
  globalPosition: number;
  eventId: string;
  streamId: string;
  streamVersion: number;
  type: string;
  schemaVersion: number;
  payload: unknown;
  metadata: unknown;
  occurredAt: string;
  recordedAt: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/** hash = sha256(prev_hash || canonical event), DESIGN.md section 4. */
export function chainHash(prevHash: string, event: HashedEventFields): string {
  const canonical = canonicalJson({
    globalPosition: event.globalPosition,
    eventId: event.eventId,
    streamId: event.streamId,
    streamVersion: event.streamVersion,
    type: event.type,
    schemaVersion: event.schemaVersion,
    payload: event.payload,
    metadata: event.metadata,
    occurredAt: event.occurredAt,
    recordedAt: event.recordedAt,
  });
  return createHash('sha256').update(prevHash).update(canonical).digest('hex');
}

export type ChainBreak =
  | { kind: 'hash-mismatch'; globalPosition: number; eventId: string; expected: string; stored: string }
  | { kind: 'prev-hash-mismatch'; globalPosition: number; eventId: string; expected: string; stored: string }
  /** The sealed head does not match the last sealed event (an event at or before it was removed). */
  | { kind: 'position-gap'; globalPosition: number; expectedPosition: number }
  /** An event inside the sealed range has no chain link: it was inserted behind the sealer. */
  | { kind: 'missing-link'; globalPosition: number; eventId: string };

export interface ChainVerification {
  ok: boolean;
  eventsChecked: number;
  lastPosition: number;
  lastHash: string;
  firstBreak?: ChainBreak;
  /** The sealed head: events up to it are linked; the sealer links later ones behind the writers. */
  sealedPosition?: number;
  /** Events after the sealed head: not yet sealed, which is not a break. */
  pending?: number;
}
