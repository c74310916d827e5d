import { formatZodError } from '@fleetledger/contracts';
import { TelemetrySample, telemetrySampleSchema } from '@fleetledger/contracts/metering';

export type SampleParse =
  { ok: true; sample: TelemetrySample } | { ok: false; reason: SampleRejection; detail: string };
export type SampleRejection = 'empty-message' | 'unparseable-json' | 'invalid-sample';

/** Parses one sample at the edge (Kafka record value or HTTP batch item): typed, or why not. */
export function parseSample(input: unknown): SampleParse {
  const parsed = telemetrySampleSchema.safeParse(input);
  if (!parsed.success) return { ok: false, reason: 'invalid-sample', detail: formatZodError(parsed.error) };
  return { ok: true, sample: parsed.data };
}

export function parseSampleRecord(value: Buffer | null): SampleParse {
  if (!value || value.length === 0)
    return { ok: false, reason: 'empty-message', detail: 'the record has no value' };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: 'unparseable-json', detail: (error as Error).message };
  }
  return parseSample(json);
}
