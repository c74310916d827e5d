import { z } from 'zod';

/**
 * One event type, in its latest schema version, with the upcasters that lift older stored versions to it.
 * Old events are never rewritten: they are upcast when read (DESIGN.md section 3).
 */
export interface EventDefinition<TType extends string = string, TSchema extends z.ZodType = z.ZodType> {
  readonly type: TType;
  readonly schemaVersion: number;
  readonly schema: TSchema;
  /** upcasters[v] turns a payload of version v into version v + 1. */
  readonly upcasters: Readonly<Record<number, (payload: unknown) => unknown>>;
}

export type PayloadOf<D> = D extends EventDefinition<string, infer S> ? z.infer<S> : never;

/**
 * The typed event `{ type, payload }` of a definition; of a union of definitions, the discriminated union
 * (a service's events, narrowed by `switch (event.type)` with no cast).
 */
export type EventOf<D> =
  D extends EventDefinition<infer T, infer S> ? { type: T; payload: z.infer<S> } : never;

/** Whether an event is of this definition's type (narrows its payload; see `eventGuard` for the trust). */
export function isEvent<D extends EventDefinition, E extends { type: string; payload: unknown }>(
  definition: D,
  event: E,
): event is E & EventOf<D> {
  return event.type === definition.type;
}

/** The payloads of the events of one type, in order (a reply built from a command's events). */
export function payloadsOf<D extends EventDefinition>(
  definition: D,
  events: readonly { type: string; payload: unknown }[],
): PayloadOf<D>[] {
  const payloads: PayloadOf<D>[] = [];
  // The type name picks the payload's schema; TypeScript cannot resolve EventOf<D> for a generic D.
  for (const event of events)
    if (event.type === definition.type) payloads.push(event.payload as PayloadOf<D>);
  return payloads;
}

/**
 * A guard for "one of these events", to narrow an envelope or a decided event to its service's union.
 * It checks the type name only: a payload is validated against its type's schema once, at the edge (the
 * registry, when an event is consumed or read; `newEvent`'s types, when it is decided).
 */
export function eventGuard<const Defs extends readonly EventDefinition[]>(definitions: Defs) {
  const types = new Set<string>(definitions.map((definition) => definition.type));
  return <E extends { type: string; payload: unknown }>(event: E): event is E & EventOf<Defs[number]> =>
    types.has(event.type);
}

export function defineEvent<TType extends string, TSchema extends z.ZodType>(definition: {
  type: TType;
  schemaVersion?: number;
  schema: TSchema;
  upcasters?: Record<number, (payload: unknown) => unknown>;
}): EventDefinition<TType, TSchema> {
  const schemaVersion = definition.schemaVersion ?? 1;
  const upcasters = definition.upcasters ?? {};
  for (let version = 1; version < schemaVersion; version++) {
    if (!upcasters[version]) {
      throw new Error(`${definition.type} v${schemaVersion} has no upcaster from v${version}`);
    }
  }
  return { type: definition.type, schemaVersion, schema: definition.schema, upcasters };
}

/** A typed new event, before the store gives it an id, a position and a version. */
export interface NewEvent<TType extends string = string, TPayload = unknown> {
  type: TType;
  payload: TPayload;
  occurredAt: string;
  /** Deterministic id for idempotent commands; a UUIDv7 is generated when absent. */
  eventId?: string;
}

export function newEvent<D extends EventDefinition>(
  definition: D,
  payload: PayloadOf<D>,
  occurredAt: string,
  eventId?: string,
): NewEvent<D['type'], PayloadOf<D>> {
  return { type: definition.type, payload, occurredAt, eventId };
}
