import { createHash } from 'node:crypto';
import { fromMilliUnits, SAMPLE_PERIOD_SECONDS, TelemetrySample } from '@fleetledger/contracts/metering';

/**
 * The sample-interval rule (one place, so every count agrees):
 *
 *   Each sample stands for the nominal reporting period of SAMPLE_PERIOD_SECONDS (10 s) ending at
 *   `sampledAt`. Its busy time is `utilization x 10 s` and its energy `powerW x 10 s`. The whole
 *   sample is credited to the lease that held the GPU, and to the UTC hour that contains, the
 *   MIDPOINT of that period (`sampledAt - 5 s`). So a sample at 01:00:00.000 (period 00:59:50 to
 *   01:00:00) counts in hour 00, and a GPU released at 00:30:00 is not billed busy time for a
 *   sample at 00:30:04 (midpoint 00:29:59 -> still the lease; 00:30:06 -> midpoint 00:30:01 -> not).
 *
 *   Busy and energy are NOT capped at allocated time: they are measurements, allocated time is the
 *   contract. A consumer that wants "busy <= allocated" clamps at rating time.
 *
 * Every quantity is accumulated as an integer: busy in milliseconds, energy in millijoules, allocated
 * in GPU-milliseconds. They become the contract's 3-decimal strings only when a record is built.
 */
export const SAMPLE_PERIOD_MS = SAMPLE_PERIOD_SECONDS * 1000;
export const HOUR_MS = 3_600_000;

export interface SampleContribution {
  busyMs: number;
  energyMj: number;
  /** The instant the sample is attributed at (period midpoint), epoch ms. */
  attributedAtMs: number;
}

export function contributionOf(
  sample: Pick<TelemetrySample, 'sampledAt' | 'utilization' | 'powerW'>,
): SampleContribution {
  return {
    busyMs: Math.round(sample.utilization * SAMPLE_PERIOD_MS),
    energyMj: Math.round(sample.powerW * SAMPLE_PERIOD_MS),
    attributedAtMs: Date.parse(sample.sampledAt) - SAMPLE_PERIOD_MS / 2,
  };
}

export function hourStartOf(epochMs: number): number {
  return Math.floor(epochMs / HOUR_MS) * HOUR_MS;
}

export const DAY_MS = 24 * HOUR_MS;

/**
 * The storage day of a sample: the UTC day of the instant it is attributed at (so of the hour it is
 * counted in), as `YYYY-MM-DD`. Samples are partitioned by it, and dedup is per (sampleId, day):
 * a redelivery carries the same sampledAt, so the same day.
 */
export function sampleDayOf(attributedAtMs: number): string {
  return new Date(Math.floor(attributedAtMs / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** A sample whose day is before the archive horizon (days detached from storage) is refused, never stored. */
export function isBeyondRetention(sampleDay: string, archivedBefore: string | null): boolean {
  return archivedBefore !== null && sampleDay < archivedBefore;
}

/** Millijoules to the contract's watt-hours with 3 decimals (milliwatt-hours), rounded half up. */
export function energyWhFromMillijoules(energyMj: number): string {
  return fromMilliUnits(Math.floor((energyMj + 1800) / 3600));
}

/** GPU-milliseconds to the contract's GPU-seconds with 3 decimals (exact). */
export function gpuSecondsFromMs(ms: number): string {
  return fromMilliUnits(ms);
}

const DIGEST_MODULUS = 1n << 64n;

/** This sample id's term of the order-independent digest: first 8 bytes of sha256, big-endian. */
export function sampleIdDigestTerm(sampleId: string): bigint {
  return createHash('sha256').update(sampleId, 'utf8').digest().readBigUInt64BE(0);
}

/** Adds digest terms modulo 2^64 (`sampleDigest` of the contract, before hex formatting). */
export function addDigest(a: bigint, b: bigint): bigint {
  return (a + b) % DIGEST_MODULUS;
}

export function subtractDigest(a: bigint, b: bigint): bigint {
  return (((a - b) % DIGEST_MODULUS) + DIGEST_MODULUS) % DIGEST_MODULUS;
}

export function digestHex(digest: bigint): string {
  return digest.toString(16).padStart(16, '0');
}

/** The digest of a set of sample ids, as the contract defines it. */
export function sampleIdDigest(sampleIds: Iterable<string>): string {
  let digest = 0n;
  for (const id of sampleIds) digest = addDigest(digest, sampleIdDigestTerm(id));
  return digestHex(digest);
}
