import {
  divideRoundHalfEven,
  energyAmountMinor,
  formatMinor,
  gpuTimeAmountMinor,
  IntegerSum,
  milliDecimalToIntegerString,
  parseMilliDecimal,
} from './money';

describe('money: one rounding rule, half to even', () => {
  it.each([
    ['exact', 10n, 5n, 2n],
    ['below half rounds down', 14n, 10n, 1n],
    ['above half rounds up', 16n, 10n, 2n],
    ['tie to even (down)', 5n, 10n, 0n],
    ['tie to even (up)', 15n, 10n, 2n],
    ['tie 2.5 -> 2', 25n, 10n, 2n],
    ['negative tie -0.5 -> 0', -5n, 10n, 0n],
    ['negative tie -1.5 -> -2', -15n, 10n, -2n],
    ['negative above half', -16n, 10n, -2n],
  ])('%s: %d / %d = %d', (_case, numerator, denominator, expected) => {
    expect(divideRoundHalfEven(numerator, denominator)).toBe(expected);
  });

  it.each([
    // milli-GPU-seconds, price per GPU-hour in micro-cents, expected cents
    ['one GPU-hour at 2.50', 3_600_000n, 250_000_000n, 250n],
    ['18 GPU-seconds at 2.50 = 1.25 cents', 18_000n, 250_000_000n, 1n],
    ['7.2 GPU-seconds at 2.50 = 0.5 cent, tie to even', 7_200n, 250_000_000n, 0n],
    ['21.6 GPU-seconds at 2.50 = 1.5 cents, tie to even', 21_600n, 250_000_000n, 2n],
    ['a month of 1000 GPUs at 2.4975 sums exactly', 1000n * 720n * 3_600_000n, 249_750_000n, 179_820_000n],
    ['negative adjustment of one GPU-hour', -3_600_000n, 250_000_000n, -250n],
  ])('GPU time: %s', (_case, milliGpuSeconds, price, expected) => {
    expect(gpuTimeAmountMinor(milliGpuSeconds, price)).toBe(expected);
  });

  it.each([
    ['4.5 kWh at 0.12', 4_500_000n, 12_000_000n, 54n],
    ['1 Wh at 0.12 = 0.012 cents', 1_000n, 12_000_000n, 0n],
    ['125 Wh at 0.12 = 1.5 cents, tie to even', 125_000n, 12_000_000n, 2n],
  ])('energy: %s', (_case, milliWh, price, expected) => {
    expect(energyAmountMinor(milliWh, price)).toBe(expected);
  });

  it.each([
    ['USD', 123456n, 2, '1234.56'],
    ['USD small negative', -5n, 2, '-0.05'],
    ['JPY has no minor unit', 123456n, 0, '123456'],
    ['BHD has three decimals', 1234n, 3, '1.234'],
  ])('formats %s', (_case, amount, exponent, expected) => {
    expect(formatMinor(amount, exponent)).toBe(expected);
  });

  it('parses metering 3-decimal quantities exactly and refuses floats', () => {
    expect(parseMilliDecimal('3600.000')).toBe(3_600_000n);
    expect(parseMilliDecimal('-0.500')).toBe(-500n);
    expect(() => parseMilliDecimal('3600.5')).toThrow();
  });
});

describe('quantities without bigint churn', () => {
  it.each([
    ['3600.000', '3600000'],
    ['0.500', '500'],
    ['0.000', '0'],
    ['-0.000', '0'],
    ['-3600.250', '-3600250'],
    ['007.001', '7001'],
  ])('%s -> %s thousandths', (value, expected) => {
    expect(milliDecimalToIntegerString(value)).toBe(expected);
    expect(BigInt(milliDecimalToIntegerString(value))).toBe(parseMilliDecimal(value));
  });

  it('sums exactly past 2^53 and with huge addends', () => {
    const sum = new IntegerSum();
    const addend = '999999999999999'; // 15 digits: added as a double
    for (let i = 0; i < 10_000; i++) sum.add(addend);
    sum.add('-1');
    sum.add('123456789012345678901234567890'); // too long for a double
    expect(sum.total()).toBe(999999999999999n * 10_000n - 1n + 123456789012345678901234567890n);
  });
});
