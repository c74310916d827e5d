/**
 * PostgreSQL's COPY text format, for the few columns the ingestion path streams: one line per row,
 * fields separated by tabs, NULL as `\N`, and in text fields the four characters COPY gives a
 * meaning (backslash, tab, newline, carriage return) written as backslash escapes.
 * https://www.postgresql.org/docs/current/sql-copy.html ("Text Format")
 */
const SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A text field as COPY reads it back byte for byte. */
export function copyText(value: string): string {
  return SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]) : value;
}

/** An integer field, or NULL. Only safe integers: anything else is a bug upstream, not data. */
export function copyInteger(value: number | null): string {
  if (value === null) return '\\N';
  if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer for COPY: ${value}`);
  return String(value);
}
