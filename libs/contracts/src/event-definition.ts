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
