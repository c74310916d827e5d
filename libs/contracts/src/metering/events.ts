import { z } from 'zod';
import { defineEvent, EventOf, eventGuard, PayloadOf } from '../event-definition';

/**
 * Metering contracts.
 *
 * Quantities are exact decimal strings with exactly three decimals (milli-units), never floats:
 * `gpuSecondsAllocated: "3600.000"`, `energyWh: "1944.444"`. Parse them with `milliUnits()` into an
 * integer count of thousandths (bigint) and format with `fromMilliUnits()`. Deltas of a correction
 * may be negative (`"-12.500"`).
 */
export const MILLI_DECIMAL = /^-?\d+\.\d{3}$/;
const unsignedMilliDecimal = z
  .string()
  .regex(/^\d+\.\d{3}$/, 'a non-negative decimal with exactly 3 decimals');
const signedMilliDecimal = z.string().regex(MILLI_DECIMAL, 'a decimal with exactly 3 decimals');
const isoInstant = z.iso.datetime({ offset: true });
/** An hour window start: an ISO instant on a whole UTC hour. */
const hourStart = isoInstant.refine((value) => {
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms % 3_600_000 === 0;
}, 'must be on a whole UTC hour');

export const GPU_CLASSES = ['H100', 'H200', 'GB200'] as const;
export const gpuClassSchema = z.enum(GPU_CLASSES);
export type GpuClass = z.infer<typeof gpuClassSchema>;

/**
 * One telemetry sample from a node agent. NOT an event envelope: samples arrive raw (JSON) on
 * `Topics.meteringTelemetry`, keyed by `nodeId` so one node's samples stay ordered in a partition,
 * one per record or a node report per record (see below), or in a batch on the HTTP ingestion
 * endpoint. `sampleId` is unique forever (deduplication key).
 *
 * Each sample covers the nominal reporting period (`SAMPLE_PERIOD_SECONDS`) ending at `sampledAt`.
 */
export const telemetrySampleSchema = z.object({
  sampleId: z.string().min(1).max(200),
  gpuId: z.string().min(1).max(200),
  nodeId: z.string().min(1).max(200),
  sampledAt: isoInstant,
  /** Fraction of the period the GPU was busy, 0..1. */
  utilization: z.number().min(0).max(1),
  /** Average power draw over the period, in watts. */
  powerW: z.number().min(0).max(10_000),
});
export type TelemetrySample = z.infer<typeof telemetrySampleSchema>;

/**
 * A node report: the samples of one node's GPUs in ONE telemetry record, as a JSON array (what a
 * node agent reads from all its GPUs at once). A record on `Topics.meteringTelemetry` is either one
 * sample object or a node report of 1..`NODE_REPORT_MAX_SAMPLES` samples; each sample in it is
 * validated, deduplicated and counted on its own. A report with invalid items is dead-lettered
 * whole (with the reason) and its valid items are still taken in (replaying it later changes
 * nothing for those: they are deduplicated by sample id).
 */
export const NODE_REPORT_MAX_SAMPLES = 1000;

/** A batch as posted to the HTTP ingestion endpoint. */
/**
 * The HTTP batch. Each item is documented (OpenAPI) as a telemetry sample, but validated on its own by the
 * ingestor, so an invalid item is rejected with its index and reason while the rest of the batch is taken.
 */
export const telemetryBatchSchema = z.object({
  samples: z
    .array(z.unknown().meta(jsonSchemaOf(telemetrySampleSchema)))
    .min(1)
    .max(50_000),
});

/** A schema's JSON Schema without its `$schema` header, to document a field validated elsewhere. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema) as Record<string, unknown>;
  return rest;
}

/** The nominal reporting period of a node agent: every sample stands for this many seconds. */
export const SAMPLE_PERIOD_SECONDS = 10;

/** What a usage record was computed from: enough to audit it without shipping every sample id. */
const usageSourcesSchema = z.object({
  /**
   * Order-independent digest of the sample ids counted: the sum modulo 2^64 of the first 8 bytes
   * (big-endian) of sha256(sampleId), as 16 hex digits. Anyone holding the ids can recompute it;
   * a correction carries the digest of the samples it adds. See `sampleIdDigest` in apps/metering.
   */
  sampleDigest: z.string().regex(/^[0-9a-f]{16}$/),
  /** Allocation event ids (placements, releases, ...) that opened or closed the attributed intervals. */
  placementEventIds: z.array(z.string().min(1)).max(10_000),
});

const usageTotalsSchema = z.object({
  gpuSecondsAllocated: unsignedMilliDecimal,
  gpuSecondsBusy: unsignedMilliDecimal,
  energyWh: unsignedMilliDecimal,
  sampleCount: z.number().int().nonnegative(),
});

/**
 * The closed usage of one lease, GPU class and UTC hour. Emitted once per (lease, class, hour) when
 * the window closes (hour end + allowed lateness); anything learned later is a UsageCorrected.
 * The stream id is `usage-record-<usageRecordId>`.
 */
export const UsageRecorded = defineEvent({
  type: 'metering.UsageRecorded',
  schema: z
    .object({
      /** Deterministic: `<leaseId>|<gpuClass>|<hourStart>`. */
      usageRecordId: z.string().min(1),
      leaseId: z.string().min(1),
      tenantId: z.string().min(1),
      gpuClass: gpuClassSchema,
      hourStart,
      /** When the window was closed (metering's watermark), not wall clock. */
      closedAt: isoInstant,
      sources: usageSourcesSchema,
    })
    .extend(usageTotalsSchema.shape),
});

export const USAGE_CORRECTION_REASONS = ['late-samples', 'late-placement-event'] as const;

/**
 * A change to a closed usage record: signed deltas to add to it, never an edit. `correctionSeq`
 * numbers the corrections of one record from 1; `totalsAfter` is the record with every correction
 * up to this one applied, so a consumer can check that it has not missed one.
 */
export const UsageCorrected = defineEvent({
  type: 'metering.UsageCorrected',
  schema: z.object({
    /** Deterministic: `<usageRecordId>#<correctionSeq>`. */
    usageCorrectionId: z.string().min(1),
    usageRecordId: z.string().min(1),
    correctionSeq: z.number().int().positive(),
    leaseId: z.string().min(1),
    tenantId: z.string().min(1),
    gpuClass: gpuClassSchema,
    hourStart,
    reason: z.enum(USAGE_CORRECTION_REASONS),
    correctedAt: isoInstant,
    delta: z.object({
      gpuSecondsAllocated: signedMilliDecimal,
      gpuSecondsBusy: signedMilliDecimal,
      energyWh: signedMilliDecimal,
      sampleCount: z.number().int(),
    }),
    totalsAfter: usageTotalsSchema,
    sources: usageSourcesSchema,
  }),
});

export type UsageRecordedPayload = PayloadOf<typeof UsageRecorded>;
export type UsageCorrectedPayload = PayloadOf<typeof UsageCorrected>;

export const allMeteringEvents = [UsageRecorded, UsageCorrected] as const;

/** A typed metering event, discriminated by `type`. */
export type MeteringEvent = EventOf<(typeof allMeteringEvents)[number]>;
export const isMeteringEvent = eventGuard(allMeteringEvents);

export function usageRecordId(leaseId: string, gpuClass: string, hourStartIso: string): string {
  return `${leaseId}|${gpuClass}|${hourStartIso}`;
}

export function usageRecordStreamId(recordId: string): string {
  return `usage-record-${recordId}`;
}

/** "12.345" -> 12345n; "-0.500" -> -500n. Throws on anything that is not a 3-decimal string. */
export function milliUnits(decimal: string): bigint {
  if (!MILLI_DECIMAL.test(decimal)) throw new Error(`not a 3-decimal quantity: ${decimal}`);
  return BigInt(decimal.replace('.', ''));
}

/** 12345n (or 12345) -> "12.345"; -500 -> "-0.500". */
export function fromMilliUnits(milli: bigint | number): string {
  const value = BigInt(milli);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const whole = abs / 1000n;
  const fraction = (abs % 1000n).toString().padStart(3, '0');
  return `${negative ? '-' : ''}${whole}.${fraction}`;
}
