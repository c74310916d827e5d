import { z } from 'zod';
import { EventDefinition } from './event-definition';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string; detail: string };

/**
 * Knows every event type a reader may meet. Parsing lifts an old schema version to the latest one
 * (upcasting) and then validates the payload, so no handler ever sees an unvalidated payload.
 */
export class EventRegistry {
  private readonly definitions = new Map<string, EventDefinition>();

  constructor(definitions: readonly EventDefinition[] = []) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: EventDefinition): this {
    if (this.definitions.has(definition.type))
      throw new Error(`event type ${definition.type} registered twice`);
    this.definitions.set(definition.type, definition);
    return this;
  }

  has(type: string): boolean {
    return this.definitions.has(type);
  }

  definition(type: string): EventDefinition | undefined {
    return this.definitions.get(type);
  }

  /** Upcasts and validates a payload; returns the latest schema version and the typed payload. */
  parsePayload(
    type: string,
    schemaVersion: number,
    payload: unknown,
  ): ParseResult<{ schemaVersion: number; payload: unknown }> {
    const definition = this.definitions.get(type);
    if (!definition)
      return { ok: false, reason: 'unknown-event-type', detail: `no contract for event type ${type}` };
    if (!Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > definition.schemaVersion) {
      return {
        ok: false,
        reason: 'unknown-schema-version',
        detail: `${type} has versions 1..${definition.schemaVersion}, got ${schemaVersion}`,
      };
    }
    let current = payload;
    for (let version = schemaVersion; version < definition.schemaVersion; version++) {
      current = definition.upcasters[version](current);
    }
    const parsed = definition.schema.safeParse(current);
    if (!parsed.success) {
      return {
        ok: false,
        reason: 'invalid-payload',
        detail: `${type} v${definition.schemaVersion}: ${formatZodError(parsed.error)}`,
      };
    }
    return { ok: true, value: { schemaVersion: definition.schemaVersion, payload: parsed.data } };
  }

  /** Validates a payload about to be appended: it must already be in the latest version. */
  validateNew(type: string, payload: unknown): ParseResult<unknown> {
    const definition = this.definitions.get(type);
    if (!definition)
      return { ok: false, reason: 'unknown-event-type', detail: `no contract for event type ${type}` };
    const parsed = definition.schema.safeParse(payload);
    if (!parsed.success) {
      return { ok: false, reason: 'invalid-payload', detail: `${type}: ${formatZodError(parsed.error)}` };
    }
    return { ok: true, value: parsed.data };
  }
}

export function formatZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
