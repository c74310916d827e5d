import { copyInteger, copyText } from './copy-text';

describe('COPY text fields', () => {
  it('passes plain text through untouched', () => {
    expect(copyText('sim-node-000123-gpu3@1796133000000')).toBe('sim-node-000123-gpu3@1796133000000');
  });

  it.each([
    ['a\tb', 'a\\tb'],
    ['line\nbreak', 'line\\nbreak'],
    ['cr\r', 'cr\\r'],
    ['back\\slash', 'back\\\\slash'],
    ['\\N', '\\\\N'],
    ['all\t\n\r\\', 'all\\t\\n\\r\\\\'],
  ])('escapes %j as %j (so it cannot split a row or a field, or read as NULL)', (input, escaped) => {
    expect(copyText(input)).toBe(escaped);
  });

  it('writes integers and NULL, and refuses what is not a safe integer', () => {
    expect(copyInteger(42)).toBe('42');
    expect(copyInteger(-7)).toBe('-7');
    expect(copyInteger(null)).toBe('\\N');
    expect(() => copyInteger(1.5)).toThrow(/safe integer/);
    expect(() => copyInteger(2 ** 60)).toThrow(/safe integer/);
  });
});
