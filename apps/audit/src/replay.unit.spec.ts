import { diffInvoiceTotals, InvoiceTotal } from './replay';

const invoice = (invoiceId: string, overrides: Partial<InvoiceTotal> = {}): InvoiceTotal => ({
  invoiceId,
  invoiceNumber: 1,
  tenantId: 'acme',
  period: '2026-03',
  status: 'finalized',
  totalMinor: '17602',
  totalKind: 'final',
  ...overrides,
});

describe('diffInvoiceTotals: live against replayed invoice totals', () => {
  it.each([
    ['identical invoices', [invoice('a')], [invoice('a')], []],
    ['a different total', [invoice('a')], [invoice('a', { totalMinor: '17603' })], ['a']],
    ['a different number', [invoice('a')], [invoice('a', { invoiceNumber: 2 })], ['a']],
    ['final live, still a draft in the replay', [invoice('a')], [invoice('a', { status: 'draft' })], ['a']],
    ['missing from the replay', [invoice('a'), invoice('b')], [invoice('a')], ['b']],
    ['only in the replay', [invoice('a')], [invoice('a'), invoice('c')], ['c']],
  ])('%s', (_case, live, replayed, differing) => {
    expect(diffInvoiceTotals(live, replayed).map((d) => d.invoiceId)).toEqual(differing);
  });
});
