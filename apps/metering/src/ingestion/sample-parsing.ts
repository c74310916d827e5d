import { formatZodError } from '@fleetledger/contracts';
import {
  NODE_REPORT_MAX_SAMPLES,
  TelemetrySample,
  telemetrySampleSchema,
} from '@fleetledger/contracts/metering';

export type SampleParse =
  { ok: true; sample: TelemetrySample } | { ok: false; reason: SampleRejection; detail: string };
export type SampleRejection = 'empty-message' | 'unparseable-json' | 'invalid-sample';

/** What one telemetry record holds: its valid samples, and why the record is dead-lettered, if it is. */
export interface TelemetryRecordParse {
  samples: TelemetrySample[];
  problem?: { reason: SampleRejection; detail: string };
}

/** Parses one sample at the edge (Kafka record value or HTTP batch item): typed, or why not. */
export function parseSample(input: unknown): SampleParse {
  const parsed = telemetrySampleSchema.safeParse(input);
  if (!parsed.success) return { ok: false, reason: 'invalid-sample', detail: formatZodError(parsed.error) };
  return { ok: true, sample: parsed.data };
}

/**
 * A telemetry record: one sample object, or a node report (a JSON array of samples). A report with
 * invalid items keeps its valid ones and is dead-lettered with the first problems.
 */
export function parseTelemetryRecord(value: Buffer | null): TelemetryRecordParse {
  if (!value || value.length === 0)
    return { samples: [], problem: { reason: 'empty-message', detail: 'the record has no value' } };
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return { samples: [], problem: { reason: 'unparseable-json', detail: (error as Error).message } };
  }
  if (!Array.isArray(json)) {
    const one = parseSample(json);
    return one.ok ? { samples: [one.sample] } : { samples: [], problem: one };
  }
  if (json.length === 0 || json.length > NODE_REPORT_MAX_SAMPLES)
    return {
      samples: [],
      problem: {
        reason: 'invalid-sample',
        detail: `a node report holds 1..${NODE_REPORT_MAX_SAMPLES} samples, got ${json.length}`,
      },
    };
  const samples: TelemetrySample[] = [];
  const problems: string[] = [];
  json.forEach((item, index) => {
    const one = parseSample(item);
    if (one.ok) samples.push(one.sample);
    else problems.push(`item ${index}: ${one.detail}`);
  });
  if (problems.length === 0) return { samples };
  const shown = problems.slice(0, 3).join('; ');
  return {
    samples,
    problem: {
      reason: 'invalid-sample',
      detail: problems.length > 3 ? `${shown}; and ${problems.length - 3} more` : shown,
    },
  };
}
