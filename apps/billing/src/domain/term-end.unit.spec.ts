import { composeInvoiceLines } from './invoice-lines';
import { evolveLeaseTerms, LeaseEvent, LeaseTerms } from './leases';
import { ChargeRated, invoiceIdForUsage, rateUsage, termEndLeaseOf } from './rating';
import { lease, usageRecorded, usdPlan } from '../../test/fixtures';

const at = (iso: string) => Date.parse(iso);
const plan = usdPlan();
/** 1 committed H100 from Oct 1, term ending Nov 16 00:00 (15 of November's 30 days). */
const ending = lease({
  leaseId: 'LE',
  committedGpus: { H100: 1 },
  term: { startMs: at('2026-10-01T00:00:00Z'), endMs: at('2026-11-16T00:00:00Z') },
  contractEndMs: at('2026-11-16T00:00:00Z'),
});
const running = lease({ leaseId: 'LR', committedGpus: {}, contractEndMs: at('2027-01-01T00:00:00Z') });

function rated(usage: ReturnType<typeof usageRecorded>, terms: LeaseTerms): ChargeRated[] {
  const charges = rateUsage(usage, [plan], terms);
  if (!Array.isArray(charges)) throw new Error(charges.detail);
  return charges;
}
const hourOf = (leaseId: string, hourStart: string, gpuSeconds = '3600.000') =>
  usageRecorded({ leaseId, gpuClass: 'H100', hourStart, gpuSeconds });

describe('which invoice usage goes on', () => {
  it.each([
    ['the month the term ends in: the term-end invoice', ending, '2026-11', 'tenant-a.2026-11.LE'],
    ['a month before: the monthly invoice', ending, '2026-10', 'tenant-a.2026-10'],
    [
      'a term ending on a month boundary: the monthly invoice',
      { ...ending, contractEndMs: at('2026-12-01T00:00:00Z') },
      '2026-11',
      'tenant-a.2026-11',
    ],
    [
      'an early termination inside the month (contract end later): the monthly invoice',
      { ...ending, contractEndMs: at('2027-06-01T00:00:00Z') },
      '2026-11',
      'tenant-a.2026-11',
    ],
    [
      'terms stored before term-end invoices (no contract end): the monthly invoice',
      { ...ending, contractEndMs: undefined },
      '2026-11',
      'tenant-a.2026-11',
    ],
  ] as const)('%s', (_case, terms, period, expected) => {
    expect(invoiceIdForUsage(terms, 'tenant-a', 'LE', period)).toBe(expected);
  });

  it('rating puts the charges of that month on the term-end invoice', () => {
    expect(rated(hourOf('LE', '2026-11-10T00:00:00.000Z'), ending).map((c) => c.invoiceId)).toEqual([
      'tenant-a.2026-11.LE',
    ]);
  });

  it('a termination does not move the contract end; an amendment does', () => {
    const signed: LeaseEvent = {
      type: 'allocation.LeaseSigned',
      eventId: 's',
      payload: {
        leaseId: 'LE',
        tenantId: 'tenant-a',
        term: { start: '2026-10-01T00:00:00.000Z', end: '2027-10-01T00:00:00.000Z' },
        committedGpus: { H100: 1 },
        exclusivity: 'shared',
        scope: { hallIds: [], rackIds: [] },
        ratePlanId: 'usd-standard',
        signedAt: '2026-09-01T00:00:00.000Z',
        author: 'sales',
      },
    };
    const terminated = evolveLeaseTerms(evolveLeaseTerms(undefined, signed), {
      type: 'allocation.LeaseTerminated',
      eventId: 't',
      payload: {
        leaseId: 'LE',
        tenantId: 'tenant-a',
        terminatedAt: '2026-11-16T00:00:00.000Z',
        reason: 'exit',
        author: 'sales',
      },
    })!;
    expect(terminated.contractEndMs).toBe(at('2027-10-01T00:00:00Z'));
    expect(terminated.term.endMs).toBe(at('2026-11-16T00:00:00Z'));
  });

  it.each([
    ['tenant-a.2026-11.LE', 'tenant-a', 'LE'],
    ['tenant-a.2026-11', 'tenant-a', undefined],
    ['acme.eu.2026-11.lease.7', 'acme.eu', 'lease.7'],
  ])('invoice %s of %s is for lease %s', (invoiceId, tenantId, leaseId) => {
    expect(termEndLeaseOf(invoiceId, tenantId, '2026-11')).toBe(leaseId);
  });
});

describe('a term-end invoice and the monthly invoice of the same month', () => {
  const leases = [ending, running];
  const compose = (
    charges: ChargeRated[],
    invoiceLeaseId?: string,
    commitmentsBilledElsewhere?: ReadonlySet<string>,
  ) => {
    const composition = composeInvoiceLines({
      period: '2026-11',
      charges,
      leases,
      planVersions: () => [plan],
      invoiceLeaseId,
      commitmentsBilledElsewhere,
    });
    if (composition.kind === 'rejected') throw new Error(composition.detail);
    return composition.lines.map((line) => [line.lineId, line.amountMinor]);
  };

  it("the term-end invoice bills the lease's usage and its minimum prorated to the term end", () => {
    // 1 GPU-h x 2.50; minimum 1,000.00 x 15/30 = 500.00 -> shortfall 497.50
    expect(compose(rated(hourOf('LE', '2026-11-10T00:00:00.000Z'), ending), 'LE')).toEqual([
      ['LE:gpu-usage:H100:250000000', '250'],
      ['LE:commitment-shortfall:H100', '49750'],
    ]);
  });

  it("the monthly invoice leaves that lease's commitment to the term-end invoice", () => {
    const other = rated(hourOf('LR', '2026-11-10T00:00:00.000Z'), running);
    // LR commits nothing: its usage is overage
    expect(compose(other, undefined, new Set(['LE']))).toEqual([['LR:gpu-overage:H100:300000000', '300']]);
    // without a term-end invoice, the monthly invoice bills LE's minimum (no usage: 1,000.00 x 15/30)
    expect(compose(other)).toEqual([
      ['LE:commitment-shortfall:H100', '50000'],
      ['LR:gpu-overage:H100:300000000', '300'],
    ]);
  });

  it('usage of the lease found on the invoice that does not bill its commitment is billed at the base price, outside it', () => {
    // rated onto the monthly invoice before an amendment moved the term end into November
    const early = rated(hourOf('LE', '2026-11-02T00:00:00.000Z', '7200.000'), {
      ...ending,
      contractEndMs: undefined,
    });
    expect(compose(early, undefined, new Set(['LE']))).toEqual([
      ['LE:gpu-usage:H100:250000000:outside-commitment', '500'],
    ]);
  });
});
