import { composeInvoiceLines } from './invoice-lines';
import { decideInvoice, initialInvoiceState } from './invoice';
import { evolveLeaseTerms, LeaseEvent, LeaseTerms } from './leases';
import { checkMonthEnded, invoicesDueForMonth } from './month-close';
import { lease, usd, usdPlan } from '../../test/fixtures';

const at = (iso: string) => Date.parse(iso);
const plans = () => [usdPlan()];
/** 8 committed H100 from Nov 1 2026 for a year. */
const eightH100 = lease({
  leaseId: 'L8',
  committedGpus: { H100: 8 },
  term: { startMs: at('2026-11-01T00:00:00Z'), endMs: at('2027-11-01T00:00:00Z') },
  contractEndMs: at('2027-11-01T00:00:00Z'),
});

function fold(events: LeaseEvent[]): LeaseTerms {
  return events.reduce<LeaseTerms | undefined>(evolveLeaseTerms, undefined)!;
}
const signed = (committedGpus: Record<string, number>, start: string, end: string): LeaseEvent => ({
  type: 'allocation.LeaseSigned',
  eventId: 'signed',
  payload: {
    leaseId: 'LA',
    tenantId: 'tenant-a',
    term: { start, end },
    committedGpus,
    exclusivity: 'shared',
    scope: { hallIds: [], rackIds: [] },
    ratePlanId: 'usd-standard',
    signedAt: start,
    author: 'sales',
  },
});
const amended = (committedGpus: Record<string, number>, effectiveAt: string, end: string): LeaseEvent => ({
  type: 'allocation.LeaseAmended',
  eventId: `amended-${effectiveAt}`,
  payload: {
    leaseId: 'LA',
    tenantId: 'tenant-a',
    term: { start: '2026-11-01T00:00:00.000Z', end },
    committedGpus,
    scope: { hallIds: [], rackIds: [] },
    ratePlanId: 'usd-standard',
    previous: {
      term: { start: '2026-11-01T00:00:00.000Z', end },
      committedGpus: {},
      ratePlanId: 'usd-standard',
    },
    effectiveAt,
    reason: 'renegotiated',
    author: 'sales',
  },
});
const terminated = (terminatedAt: string): LeaseEvent => ({
  type: 'allocation.LeaseTerminated',
  eventId: 'terminated',
  payload: { leaseId: 'LA', tenantId: 'tenant-a', terminatedAt, reason: 'default', author: 'finance' },
});
const YEAR = ['2026-11-01T00:00:00.000Z', '2027-11-01T00:00:00.000Z'] as const;

describe('which invoices a month owes for commitments (month close)', () => {
  it.each([
    ['before the term starts: none', [signed({ H100: 8 }, ...YEAR)], '2026-10', []],
    [
      'the first month of the term: the monthly invoice',
      [signed({ H100: 8 }, ...YEAR)],
      '2026-11',
      ['tenant-a.2026-11'],
    ],
    [
      'a term starting mid-month: that month is owed (prorated later)',
      [signed({ H100: 8 }, '2026-11-20T00:00:00.000Z', YEAR[1])],
      '2026-11',
      ['tenant-a.2026-11'],
    ],
    ['a month inside the term', [signed({ H100: 8 }, ...YEAR)], '2027-03', ['tenant-a.2027-03']],
    [
      'the month the term ends in, mid-month: the term-end invoice',
      [signed({ H100: 8 }, YEAR[0], '2027-10-15T00:00:00.000Z')],
      '2027-10',
      ['tenant-a.2027-10.LA'],
    ],
    ['a term ending on the 1st: nothing for that month', [signed({ H100: 8 }, ...YEAR)], '2027-11', []],
    ['no committed GPUs: none', [signed({}, ...YEAR)], '2026-12', []],
    [
      'an amendment committing from mid-December: December is owed',
      [signed({}, ...YEAR), amended({ H100: 8 }, '2026-12-10T00:00:00.000Z', YEAR[1])],
      '2026-12',
      ['tenant-a.2026-12'],
    ],
    [
      '...but November, before it took effect, is not',
      [signed({}, ...YEAR), amended({ H100: 8 }, '2026-12-10T00:00:00.000Z', YEAR[1])],
      '2026-11',
      [],
    ],
    [
      'an amendment dropping the commitment from January: January owes nothing',
      [signed({ H100: 8 }, ...YEAR), amended({}, '2027-01-01T00:00:00.000Z', YEAR[1])],
      '2027-01',
      [],
    ],
    [
      'an amendment moving the term end into March: the term-end invoice of March',
      [
        signed({ H100: 8 }, ...YEAR),
        amended({ H100: 8 }, '2027-02-01T00:00:00.000Z', '2027-03-10T00:00:00.000Z'),
      ],
      '2027-03',
      ['tenant-a.2027-03.LA'],
    ],
    [
      'early termination mid-month: that month on the monthly invoice (the contract end is later)',
      [signed({ H100: 8 }, ...YEAR), terminated('2027-02-14T00:00:00.000Z')],
      '2027-02',
      ['tenant-a.2027-02'],
    ],
    [
      'early termination: the months after it owe nothing',
      [signed({ H100: 8 }, ...YEAR), terminated('2027-02-14T00:00:00.000Z')],
      '2027-03',
      [],
    ],
  ] as const)('%s', (_case, events, period, expected) => {
    const { due, skipped } = invoicesDueForMonth([fold([...events])], plans, period);
    expect(due.map((invoice) => invoice.invoiceId)).toEqual(expected);
    expect(skipped).toEqual([]);
  });

  it("collects a tenant's committed leases on one monthly invoice, in the plan's currency", () => {
    const other = { ...eightH100, leaseId: 'L1', committedGpus: { H200: 1 } };
    const elsewhere = { ...eightH100, leaseId: 'LB', tenantId: 'tenant-b' };
    expect(invoicesDueForMonth([eightH100, elsewhere, other], plans, '2026-12')).toEqual({
      due: [
        {
          invoiceId: 'tenant-a.2026-12',
          tenantId: 'tenant-a',
          period: '2026-12',
          currency: usd,
          leaseIds: ['L1', 'L8'],
        },
        {
          invoiceId: 'tenant-b.2026-12',
          tenantId: 'tenant-b',
          period: '2026-12',
          currency: usd,
          leaseIds: ['LB'],
        },
      ],
      skipped: [],
    });
  });

  it("a lease committing money (its plan's monthlyCommitmentMinor) and no GPUs is owed an invoice too", () => {
    const money = { ...eightH100, committedGpus: {} };
    const withMoney = () => [usdPlan({ monthlyCommitmentMinor: '100000000' })];
    expect(invoicesDueForMonth([money], withMoney, '2026-12').due.map((i) => i.invoiceId)).toEqual([
      'tenant-a.2026-12',
    ]);
    expect(invoicesDueForMonth([money], plans, '2026-12').due).toEqual([]);
  });

  it('reports a committed lease whose plan is not in effect instead of dropping it', () => {
    const { due, skipped } = invoicesDueForMonth(
      [{ ...eightH100, ratePlanId: 'unknown' }],
      () => [],
      '2026-12',
    );
    expect(due).toEqual([]);
    expect(skipped).toEqual([expect.objectContaining({ leaseId: 'L8', reason: 'no-rate-plan-in-effect' })]);
  });

  it.each([
    ['before the month ends', '2026-11-30T23:59:59.000Z', 'period-not-ended'],
    ['at its end', '2026-12-01T00:00:00.000Z', undefined],
  ])('closing November %s: %s', (_case, closedAt, reason) => {
    expect(checkMonthEnded('2026-11', closedAt)?.reason).toBe(reason);
  });
});

describe('an invoice opened by month close', () => {
  const open = {
    kind: 'open',
    invoiceId: 'tenant-a.2026-12',
    tenantId: 'tenant-a',
    period: '2026-12',
    currency: usd,
  } as const;

  it('is a draft; opening it again (or an invoice usage opened) decides nothing', () => {
    const { kind: _kind, ...payload } = open;
    expect(decideInvoice(initialInvoiceState(), open)).toEqual([{ type: 'billing.InvoiceDrafted', payload }]);
    const drafted = { ...payload, status: 'draft' as const, charges: new Map() };
    expect(decideInvoice(drafted, open)).toEqual([]);
  });

  it.each([
    ['a full month of 8 committed H100, no usage: the whole minimum', eightH100, '2026-12', '800000'],
    [
      'the term starting Nov 16: half the minimum',
      { ...eightH100, term: { startMs: at('2026-11-16T00:00:00Z'), endMs: eightH100.term.endMs } },
      '2026-11',
      '400000',
    ],
    [
      'terminated Dec 11 (10 of 31 days)',
      { ...eightH100, term: { startMs: eightH100.term.startMs, endMs: at('2026-12-11T00:00:00Z') } },
      '2026-12',
      '258065',
    ],
  ] as const)('bills, without usage, %s', (_case, terms, period, shortfall) => {
    const composition = composeInvoiceLines({ period, charges: [], leases: [terms], planVersions: plans });
    expect(composition).toMatchObject({
      kind: 'composed',
      totalMinor: BigInt(shortfall),
      lines: [{ lineId: 'L8:commitment-shortfall:H100', amountMinor: shortfall }],
    });
  });
});
