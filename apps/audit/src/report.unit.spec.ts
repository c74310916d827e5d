import { barChart, formatMinor, periodBounds, renderHtml, toCsv } from './report';

describe('audit report building blocks', () => {
  it.each([
    ['123456', 2, '1234.56'],
    ['5', 2, '0.05'],
    ['-250', 2, '-2.50'],
    ['1000', 0, '1000'],
    ['123456789012345678901234', 3, '123456789012345678901.234'],
  ])('formats %s minor units with exponent %d as %s, exactly', (minor, exponent, expected) => {
    expect(formatMinor(minor, exponent)).toBe(expected);
  });

  it.each([
    ['2026-11', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'],
    ['2026-12', '2026-12-01T00:00:00Z', '2027-01-01T00:00:00Z'],
  ])('period %s spans [%s, %s)', (period, from, to) => {
    expect(periodBounds(period)).toEqual({ from, to });
  });

  it('rejects a period that is not YYYY-MM', () => {
    expect(() => periodBounds('2026-13')).toThrow(/YYYY-MM/);
  });

  it('quotes CSV cells that need it (RFC 4180)', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['x,y', 'say "hi"'],
          [null, 3],
        ],
      ),
    ).toBe('a,b\n"x,y","say ""hi"""\n,3\n');
  });

  it('draws one bar per value, scaled to the largest', () => {
    const svg = barChart(
      't',
      [
        { label: 'H100', value: 10, text: '10' },
        { label: 'GB200', value: 5, text: '5' },
      ],
      'c',
    );
    const widths = [...svg.matchAll(/<rect [^>]*width="(\d+)"/g)].map((m) => Number(m[1]));
    expect(widths).toHaveLength(2);
    expect(widths[0]).toBe(2 * widths[1]);
  });

  it('escapes tenant-provided text in the HTML', () => {
    const html = renderHtml(
      {
        period: '2026-11',
        usageByClass: [],
        utilizationByDay: [],
        revenueByClass: [],
        invoices: [
          {
            invoiceNumber: 1,
            tenantId: '<script>x</script>',
            status: 'finalized',
            currency: 'USD',
            totalMinor: '100',
            exponent: 2,
          },
        ],
        invoiceSteps: [
          {
            invoiceId: 'acme.2026-03',
            step: 'InvoiceFinalized',
            by: 'finance-alice',
            roles: 'finance',
            recordedAt: '2026-04-01T00:00:00.000Z',
          },
        ],
      },
      '2026-12-01T00:00:00Z',
    );
    expect(html).not.toContain('<script>x');
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt;');
    expect(html).toMatch(
      /<h2>Who finalized and credited<\/h2>\s*<table>.*<td>InvoiceFinalized<\/td><td>finance-alice<\/td>/s,
    );
    expect(html).toContain('<td>1.00</td>');
  });
});
