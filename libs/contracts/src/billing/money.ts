import { z } from 'zod';

/**
 * Money on the wire. Never a JSON number with a fraction: amounts are integers in the currency's minor unit
 * (cents for USD, yen for JPY, fils for BHD), written as strings of digits so any size survives JSON exactly.
 *
 * Rates need finer precision than one minor unit (a GPU-second costs a fraction of a cent), so prices are
 * integers in MICRO-minor units: millionths of one minor unit. USD 2.4975 per GPU-hour = 249.75 cents
 * = "249750000" micro-minor.
 */
export const MICRO_MINOR_PER_MINOR = 1_000_000;

/** Signed integer amount in minor units, e.g. "-1250" = USD -12.50. */
export const minorUnitsSchema = z
  .string()
  .regex(/^-?(0|[1-9]\d*)$/, 'integer minor units as a string of digits');

/** Non-negative integer amount in minor units. */
export const nonNegativeMinorUnitsSchema = z
  .string()
  .regex(/^(0|[1-9]\d*)$/, 'non-negative integer minor units as a string of digits');

/** Non-negative price in millionths of a minor unit. */
export const microMinorPriceSchema = z
  .string()
  .regex(/^(0|[1-9]\d*)$/, 'non-negative integer micro-minor units as a string of digits');

/** Signed integer quantity in thousandths (milli-GPU-seconds, milli-watt-hours) as a string of digits; negative only in adjusting charges. */
export const quantitySchema = z.string().regex(/^-?(0|[1-9]\d*)$/, 'integer quantity as a string of digits');

/** ISO 4217 currency with its minor-unit exponent (USD 2, JPY 0, BHD 3). */
export const currencySchema = z.object({
  code: z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 alphabetic code'),
  minorUnitExponent: z.number().int().min(0).max(4),
});
export type Currency = z.infer<typeof currencySchema>;

/** A calendar billing month in UTC, "YYYY-MM". */
export const billingPeriodSchema = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'billing period YYYY-MM');

/** Share in basis points: 10000 = 100 %. */
export const basisPointsSchema = z.number().int().min(0).max(10_000);
