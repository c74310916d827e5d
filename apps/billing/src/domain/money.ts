/**
 * Exact money arithmetic. Amounts are bigint minor units; prices are bigint micro-minor units (millionths of a
 * minor unit); quantities are bigint thousandths (milli-GPU-seconds, milli-watt-hours).
 *
 * THE rounding rule: an amount is computed exactly as a fraction and rounded ONCE, half to even, to a whole
 * minor unit. This happens once per invoice line (quantity x unit price), never per charge, so a month of
 * 720 hourly charges sums its quantities first and rounds a single time.
 */

export const MICRO_MINOR_PER_MINOR = 1_000_000n;
export const MILLI_PER_UNIT = 1_000n;
export const SECONDS_PER_HOUR = 3_600n;
export const WH_PER_KWH = 1_000n;
export const BASIS_POINTS_PER_WHOLE = 10_000n;

/** numerator / denominator rounded to the nearest integer, ties to the even neighbour. Denominator > 0. */
export function divideRoundHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new Error(`denominator must be positive, got ${denominator}`);
  const negative = numerator < 0n;
  const abs = negative ? -numerator : numerator;
  let quotient = abs / denominator;
  const twiceRemainder = (abs % denominator) * 2n;
  if (twiceRemainder > denominator || (twiceRemainder === denominator && quotient % 2n === 1n))
    quotient += 1n;
  return negative ? -quotient : quotient;
}

/** Amount of a line of milli-GPU-seconds priced per GPU-hour: qty / 1000 / 3600 x price / 10^6, rounded once. */
export function gpuTimeAmountMinor(milliGpuSeconds: bigint, pricePerGpuHourMicroMinor: bigint): bigint {
  return divideRoundHalfEven(
    milliGpuSeconds * pricePerGpuHourMicroMinor,
    MILLI_PER_UNIT * SECONDS_PER_HOUR * MICRO_MINOR_PER_MINOR,
  );
}

/** Amount of a line of milli-watt-hours priced per kWh: qty / 1000 / 1000 x price / 10^6, rounded once. */
export function energyAmountMinor(milliWh: bigint, pricePerKwhMicroMinor: bigint): bigint {
  return divideRoundHalfEven(
    milliWh * pricePerKwhMicroMinor,
    MILLI_PER_UNIT * WH_PER_KWH * MICRO_MINOR_PER_MINOR,
  );
}

/** Parses a contract string of digits ("-1250") into bigint; throws on anything else (a bug upstream). */
export function parseInteger(value: string): bigint {
  if (!/^-?\d+$/.test(value)) throw new Error(`not an integer string: ${value}`);
  return BigInt(value);
}

/** 3-decimal metering quantity ("3600.000") -> thousandths (3600000n). */
export function parseMilliDecimal(value: string): bigint {
  if (!/^-?\d+\.\d{3}$/.test(value)) throw new Error(`not a 3-decimal quantity: ${value}`);
  return BigInt(value.replace('.', ''));
}

/**
 * The same thousandths as a canonical integer string ("0.500" -> "500", "-3600.000" -> "-3600000", "0.000" ->
 * "0"), without going through bigint: charges carry quantities as strings, and rating makes millions of them.
 */
export function milliDecimalToIntegerString(value: string): string {
  if (!/^-?\d+\.\d{3}$/.test(value)) throw new Error(`not a 3-decimal quantity: ${value}`);
  const negative = value.charCodeAt(0) === 45; // '-'
  const digits = (negative ? value.slice(1) : value).replace('.', '');
  let first = 0;
  while (first < digits.length - 1 && digits.charCodeAt(first) === 48) first += 1; // leading '0'
  const magnitude = digits.slice(first);
  return negative && magnitude !== '0' ? `-${magnitude}` : magnitude;
}

/**
 * Exact sum of integer strings, adding small values as doubles (exact below 2^53) and moving them into a bigint
 * before they could lose a unit. Summing millions of quantities this way avoids a bigint per addend.
 */
export class IntegerSum {
  private small = 0;
  private big = 0n;

  add(integer: string): void {
    if (integer.length <= 15) {
      this.small += Number(integer);
      if (this.small > 2 ** 52 || this.small < -(2 ** 52)) {
        this.big += BigInt(this.small);
        this.small = 0;
      }
    } else {
      this.big += BigInt(integer);
    }
  }

  addSum(other: IntegerSum): void {
    this.big += other.total();
  }

  total(): bigint {
    return this.big + BigInt(this.small);
  }

  isZero(): boolean {
    return this.total() === 0n;
  }
}

/** For people: 123456n in USD (exponent 2) -> "1234.56"; in JPY (exponent 0) -> "123456". */
export function formatMinor(amountMinor: bigint, minorUnitExponent: number): string {
  const negative = amountMinor < 0n;
  const digits = (negative ? -amountMinor : amountMinor).toString().padStart(minorUnitExponent + 1, '0');
  const whole = minorUnitExponent === 0 ? digits : digits.slice(0, -minorUnitExponent);
  const fraction = minorUnitExponent === 0 ? '' : `.${digits.slice(-minorUnitExponent)}`;
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

export function sum(values: Iterable<bigint>): bigint {
  let total = 0n;
  for (const value of values) total += value;
  return total;
}

export function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

export function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
