import { ChargeRated, rateCorrection, rateUsage } from './rating';
import {
  BillingContext,
  decideInvoice,
  evolveInvoice,
  InvoiceEvent,
  InvoiceState,
  initialInvoiceState,
  NewInvoiceEvent,
} from './invoice';
import { composeInvoiceLines } from './invoice-lines';
import { periodCompleteness } from './completeness';
import { lease, usageCorrected, usageRecorded, usdPlan } from '../../test/fixtures';

const plan = usdPlan();
const at = (iso: string) => Date.parse(iso);
/** L1: 1 committed H100 for three hours; L2: 8 committed H200 for all of November. */
const leases = [
  lease({
    leaseId: 'L1',
    committedGpus: { H100: 1 },
    term: { startMs: at('2026-11-01T00:00:00Z'), endMs: at('2026-11-01T03:00:00Z') },
  }),
  lease({ leaseId: 'L2', committedGpus: { H200: 8 } }),
];
const context: BillingContext = { leases, planVersions: () => [plan] };

const hours = ['2026-11-01T00:00:00.000Z', '2026-11-01T01:00:00.000Z', '2026-11-01T02:00:00.000Z'];
const l1Usage = hours.map((hourStart) =>
  usageRecorded({ leaseId: 'L1', gpuClass: 'H100', hourStart, gpuSeconds: '7200.000', energyWh: '1500.000' }),
);
const l2Usage = usageRecorded({
  leaseId: 'L2',
  gpuClass: 'H200',
  hourStart: '2026-11-10T00:00:00.000Z',
  gpuSeconds: '28800.000',
});

function rated(...results: ReturnType<typeof rateUsage>[]): ChargeRated[] {
  return results.flatMap((result) => {
    if (!Array.isArray(result)) throw new Error(result.detail);
    return result;
  });
}
const exampleCharges = rated(...l1Usage.map((usage) => rateUsage(usage, [plan])), rateUsage(l2Usage, [plan]));

let nextId = 0;
function apply(state: InvoiceState, events: NewInvoiceEvent[]): InvoiceState {
  return events.reduce(
    (current, event) => evolveInvoice(current, { ...event, eventId: `e${++nextId}` } as InvoiceEvent),
    state,
  );
}
function decided(state: InvoiceState, command: Parameters<typeof decideInvoice>[1]): NewInvoiceEvent[] {
  const result = decideInvoice(state, command);
  if (!Array.isArray(result)) throw new Error(`${result.reason}: ${result.detail}`);
  return result;
}
function draftWith(charges: ChargeRated[]): InvoiceState {
  return apply(
    initialInvoiceState(),
    decided(initialInvoiceState(), {
      kind: 'rate-charges',
      invoiceId: 'tenant-a.2026-11',
      tenantId: 'tenant-a',
      period: '2026-11',
      charges,
    }),
  );
}
function finalized(charges = exampleCharges): InvoiceState {
  const draft = draftWith(charges);
  return apply(
    draft,
    decided(draft, { kind: 'finalize', invoiceNumber: 7, finalizedAt: '2026-12-01T00:00:00.000Z', context }),
  );
}

describe('invoice lines: the hand-computed November example', () => {
  const composition = composeInvoiceLines({
    period: '2026-11',
    charges: exampleCharges,
    leases,
    planVersions: () => [plan],
  });

  it.each([
    // L1: 6 GPU-h used against 3 committed: 3 x 2.50 within, 3 x 3.00 overage; minimum 416.67 -> 417 is covered.
    ['L1:gpu-usage:H100:250000000', '10800000', '750'],
    ['L1:gpu-overage:H100:300000000', '10800000', '900'],
    // 4.5 kWh x 0.12
    ['L1:energy:12000000', '4500000', '54'],
    // L2: 8 GPU-h x 3.00 against a minimum of 8 x 1,500.00: shortfall 12,000.00 - 24.00
    ['L2:gpu-usage:H200:300000000', '28800000', '2400'],
    ['L2:commitment-shortfall:H200', '2592000', '1197600'],
  ])('line %s: quantity %s, amount %s cents', (lineId, quantity, amount) => {
    if (composition.kind === 'rejected') throw new Error(composition.detail);
    expect(composition.lines.find((line) => line.lineId === lineId)).toEqual(
      expect.objectContaining({ quantity, amountMinor: amount }),
    );
  });

  it('totals 12,017.04 USD over exactly those five lines, each naming its source events', () => {
    if (composition.kind === 'rejected') throw new Error(composition.detail);
    expect(composition.lines).toHaveLength(5);
    expect(composition.totalMinor).toBe(1_201_704n);
    // the commitment fills in hour order: hours 0 and 1 are within it, hours 1 and 2 over it
    expect(composition.lines[0].sourceEventIds).toEqual([l1Usage[0].eventId, l1Usage[1].eventId]);
    expect(composition.lines[1].sourceEventIds).toEqual([l1Usage[1].eventId, l1Usage[2].eventId]);
    expect(composition.lines.find((line) => line.kind === 'commitment-shortfall')?.sourceEventIds).toEqual([
      'signed-L2',
    ]);
  });

  it('an SLA outage on L2 credits 25 % of its committed charges', () => {
    const outages = [
      { leaseId: 'L2', gpuClass: 'H200', unavailableGpuSeconds: 8n * 86_400n, sourceEventIds: ['health-1'] },
    ]; // 1 of 30 days: 96.67 %
    const withOutage = composeInvoiceLines({
      period: '2026-11',
      charges: exampleCharges,
      leases,
      planVersions: () => [plan],
      outages,
    });
    if (withOutage.kind === 'rejected') throw new Error(withOutage.detail);
    expect(withOutage.credits).toEqual([
      expect.objectContaining({
        availabilityBasisPoints: 9666,
        creditBasisPoints: 2500,
        amountMinor: 300_000n,
      }),
    ]);
    expect(withOutage.totalMinor).toBe(1_201_704n - 300_000n);
  });

  it('refuses to mix currencies on one invoice', () => {
    const yen = { code: 'JPY', minorUnitExponent: 0 };
    const mixed = [...exampleCharges, { ...exampleCharges[0], chargeId: 'jpy', currency: yen }];
    expect(
      composeInvoiceLines({ period: '2026-11', charges: mixed, leases, planVersions: () => [plan] }),
    ).toEqual(expect.objectContaining({ kind: 'rejected', reason: 'mixed-currencies' }));
  });

  it('bills a yen plan in whole yen (exponent 0), rounding once per line', () => {
    const yenPlan = usdPlan({
      ratePlanId: 'jpy',
      currency: { code: 'JPY', minorUnitExponent: 0 },
      classes: [
        {
          gpuClass: 'H100',
          pricePerGpuHourMicroMinor: '412500000',
          overagePricePerGpuHourMicroMinor: '412500000',
          committedMonthlyFeePerGpuMinor: '0',
        },
      ],
    });
    // 3 x 1,800 GPU-s at 412.5 yen/h: per hour 206.25 yen (would round to 206 x 3 = 618), per line 618.75 -> 619.
    const charges = rated(
      ...[0, 1, 2].map((h) =>
        rateUsage(
          usageRecorded({ leaseId: 'LJ', gpuClass: 'H100', hourStart: hours[h], gpuSeconds: '1800.000' }),
          [yenPlan],
        ),
      ),
    );
    const result = composeInvoiceLines({
      period: '2026-11',
      charges,
      leases: [],
      planVersions: () => [yenPlan],
    });
    expect(result).toEqual(
      expect.objectContaining({ totalMinor: 619n, currency: { code: 'JPY', minorUnitExponent: 0 } }),
    );
  });
});

describe('invoice lifecycle: draft -> finalized -> credit notes', () => {
  it('the first charges open a draft; the same charges again change nothing', () => {
    const events = decided(initialInvoiceState(), {
      kind: 'rate-charges',
      invoiceId: 'tenant-a.2026-11',
      tenantId: 'tenant-a',
      period: '2026-11',
      charges: exampleCharges,
    });
    expect(events.map((event) => event.type)).toEqual([
      'billing.InvoiceDrafted',
      ...exampleCharges.map(() => 'billing.ChargeRated'),
    ]);
    const draft = apply(initialInvoiceState(), events);
    expect(
      decided(draft, {
        kind: 'rate-charges',
        invoiceId: 'tenant-a.2026-11',
        tenantId: 'tenant-a',
        period: '2026-11',
        charges: exampleCharges,
      }),
    ).toEqual([]);
  });

  it('finalizing freezes lines and total under the given number', () => {
    const draft = draftWith(exampleCharges);
    const events = decided(draft, {
      kind: 'finalize',
      invoiceNumber: 7,
      finalizedAt: '2026-12-01T00:00:00.000Z',
      context,
    });
    expect(events).toEqual([
      {
        type: 'billing.InvoiceFinalized',
        payload: expect.objectContaining({
          invoiceNumber: 7,
          totalMinor: '1201704',
          currency: plan.currency,
        }),
      },
    ]);
  });

  it.each([
    [
      'add a charge',
      {
        kind: 'rate-charges',
        invoiceId: 'tenant-a.2026-11',
        tenantId: 'tenant-a',
        period: '2026-11',
        charges: [{ ...exampleCharges[0], chargeId: 'late' }],
      },
      'invoice-finalized',
    ],
    [
      'finalize again',
      { kind: 'finalize', invoiceNumber: 8, finalizedAt: '2026-12-02T00:00:00.000Z', context },
      'invoice-finalized',
    ],
    [
      'credit more than it is worth',
      {
        kind: 'grant-credit',
        creditNoteId: 'cn',
        creditNoteNumber: 1,
        amountMinor: 1_201_705n,
        reason: 'goodwill',
        issuedAt: '2026-12-03T00:00:00.000Z',
      },
      'credit-exceeds-invoice',
    ],
  ] as const)('a finalized invoice rejects: %s', (_case, command, reason) => {
    expect(decideInvoice(finalized(), command)).toEqual(
      expect.objectContaining({ kind: 'rejected', reason }),
    );
  });

  it.each([
    [
      'finalize an invoice that has no charges',
      initialInvoiceState,
      { kind: 'finalize', invoiceNumber: 1, finalizedAt: '2026-12-01T00:00:00.000Z', context },
      'invoice-not-found',
    ],
    [
      'credit a draft',
      () => draftWith(exampleCharges),
      {
        kind: 'grant-credit',
        creditNoteId: 'cn',
        creditNoteNumber: 1,
        amountMinor: 1n,
        reason: 'goodwill',
        issuedAt: '2026-12-03T00:00:00.000Z',
      },
      'invoice-not-finalized',
    ],
  ] as const)('rejects: %s', (_case, state, command, reason) => {
    expect(decideInvoice(state(), command)).toEqual(expect.objectContaining({ kind: 'rejected', reason }));
  });

  it('a downward correction of overage after finalization issues a credit note for the difference', () => {
    const state = finalized();
    const adjusting = rated(rateCorrection(usageCorrected(l1Usage[2], { gpuSeconds: '-3600.000' }), [plan]));
    const command = {
      kind: 'settle-correction' as const,
      adjustingCharges: adjusting,
      creditNoteId: 'cn-1',
      creditNoteNumber: 3,
      issuedAt: '2026-12-05T00:00:00.000Z',
      context,
    };
    const events = decided(state, command);
    // one GPU-hour less, all of it overage: -3.00
    expect(events).toEqual([
      {
        type: 'billing.CreditNoteIssued',
        payload: expect.objectContaining({
          creditNoteNumber: 3,
          invoiceNumber: 7,
          totalMinor: '-300',
          lines: [expect.objectContaining({ lineId: 'L1:gpu-overage:H100:300000000', amountMinor: '-300' })],
          sourceEventIds: ['correction-L1|H100|2026-11-01T02:00:00.000Z-1'],
        }),
      },
    ]);
    const after = apply(state, events);
    expect(after.status === 'finalized' && after.finalized.totalMinor).toBe(1_201_704n);
    expect(decided(after, command)).toEqual([]);
  });

  it('a downward correction under a take-or-pay minimum is absorbed by the shortfall: no credit note, recorded', () => {
    const adjusting = rated(rateCorrection(usageCorrected(l2Usage, { gpuSeconds: '-3600.000' }), [plan]));
    const command = {
      kind: 'settle-correction' as const,
      adjustingCharges: adjusting,
      creditNoteId: 'cn-2',
      creditNoteNumber: 4,
      issuedAt: '2026-12-05T00:00:00.000Z',
      context,
    };
    const events = decided(finalized(), command);
    expect(events).toEqual([
      {
        type: 'billing.CorrectionAbsorbed',
        payload: expect.objectContaining({ invoiceNumber: 7, adjustingCharges: adjusting }),
      },
    ]);
    expect(decided(apply(finalized(), events), command)).toEqual([]);
  });

  it('a later correction is computed against the absorbed one too', () => {
    // L2 used 8 of its 5,760 committed GPU-hours: the shortfall absorbs -1 hour, then -7 hours more: still nothing to credit,
    // while L1's overage hour removed afterwards credits exactly its -3.00.
    const absorbed = apply(
      finalized(),
      decided(finalized(), {
        kind: 'settle-correction',
        adjustingCharges: rated(rateCorrection(usageCorrected(l2Usage, { gpuSeconds: '-3600.000' }), [plan])),
        creditNoteId: 'cn-2',
        creditNoteNumber: 4,
        issuedAt: '2026-12-05T00:00:00.000Z',
        context,
      }),
    );
    const events = decided(absorbed, {
      kind: 'settle-correction',
      adjustingCharges: rated(
        rateCorrection(usageCorrected(l1Usage[2], { gpuSeconds: '-3600.000' }), [plan]),
      ),
      creditNoteId: 'cn-3',
      creditNoteNumber: 5,
      issuedAt: '2026-12-06T00:00:00.000Z',
      context,
    });
    expect(events).toEqual([
      { type: 'billing.CreditNoteIssued', payload: expect.objectContaining({ totalMinor: '-300' }) },
    ]);
    expect((events[0].payload as { lines: { lineId: string }[] }).lines.map((line) => line.lineId)).toEqual([
      'L1:gpu-overage:H100:300000000',
    ]);
  });

  it('an upward correction after finalization is not put on the final invoice', () => {
    const adjusting = rated(rateCorrection(usageCorrected(l1Usage[0], { gpuSeconds: '3600.000' }), [plan]));
    const result = decideInvoice(finalized(), {
      kind: 'settle-correction',
      adjustingCharges: adjusting,
      creditNoteId: 'cn-3',
      creditNoteNumber: 5,
      issuedAt: '2026-12-05T00:00:00.000Z',
      context,
    });
    expect(result).toEqual(
      expect.objectContaining({ kind: 'rejected', reason: 'correction-raises-invoice' }),
    );
  });
});

describe('invoice lines with a commitment amended mid-month', () => {
  it('usage above the signed commitment but within the amended one is billed at the base price, not as overage', () => {
    // 1 H100 committed, amended to 2 from Nov 16: 1 x 15 days + 2 x 15 days = 1,080 committed GPU-h.
    const amended = lease({
      leaseId: 'LA',
      committedGpus: { H100: 2 },
      sourceEventIds: ['signed-LA', 'amended-LA'],
      schedule: [
        {
          fromMs: at('2026-11-01T00:00:00Z'),
          committedGpus: { H100: 1 },
          ratePlanId: 'usd-standard',
          sourceEventId: 'signed-LA',
        },
        {
          fromMs: at('2026-11-16T00:00:00Z'),
          committedGpus: { H100: 2 },
          ratePlanId: 'usd-standard',
          sourceEventId: 'amended-LA',
        },
      ],
    });
    // 1,000 GPU-h in one hour record (a big backfill): more than the signed 720 GPU-h, less than 1,080
    const usage = rated(
      rateUsage(
        usageRecorded({
          leaseId: 'LA',
          gpuClass: 'H100',
          hourStart: '2026-11-20T00:00:00.000Z',
          gpuSeconds: '3600000.000',
        }),
        [plan],
      ),
    );
    const composition = composeInvoiceLines({
      period: '2026-11',
      charges: usage,
      leases: [amended],
      planVersions: () => [plan],
    });
    if (composition.kind === 'rejected') throw new Error(composition.detail);
    // 1,000 x 2.50 = 2,500.00 within; minimum 1,000.00 x 1.5 = 1,500.00 is covered: no shortfall, no overage
    expect(composition.lines.map((line) => [line.lineId, line.amountMinor])).toEqual([
      ['LA:gpu-usage:H100:250000000', '250000'],
    ]);
  });
});

describe('rating a batch of charges', () => {
  it('the same charge twice in one command (a usage record re-emitted in the same batch) is rated once', () => {
    const charges = rated(rateUsage(l2Usage, [plan]));
    const events = decided(initialInvoiceState(), {
      kind: 'rate-charges',
      invoiceId: 'tenant-a.2026-11',
      tenantId: 'tenant-a',
      period: '2026-11',
      charges: [...charges, ...charges],
    });
    expect(events.map((event) => event.type)).toEqual(['billing.InvoiceDrafted', 'billing.ChargeRated']);
  });
});

describe('issue #22: finalization waits for a complete period', () => {
  const incomplete = periodCompleteness({
    period: '2026-11',
    nowMs: at('2026-12-01T05:00:00Z'),
    meteringWatermarkMs: at('2026-11-30T20:00:00Z'),
    pendingHolds: 0,
    graceMs: 3_600_000,
  });
  const complete = periodCompleteness({
    period: '2026-11',
    nowMs: at('2026-12-01T05:00:00Z'),
    meteringWatermarkMs: at('2026-12-01T04:00:00Z'),
    pendingHolds: 0,
    graceMs: 3_600_000,
  });
  const finalize = {
    kind: 'finalize' as const,
    invoiceNumber: 7,
    finalizedAt: '2026-12-01T05:00:00.000Z',
    context,
  };

  it('refuses an incomplete draft with period-incomplete naming the lagging input', () => {
    const result = decideInvoice(draftWith(exampleCharges), { ...finalize, completeness: incomplete });
    expect(Array.isArray(result)).toBe(false);
    expect(result).toMatchObject({ reason: 'period-incomplete' });
    expect((result as { detail: string }).detail).toMatch(
      /metering: metering has closed usage before 2026-11-30T20:00/,
    );
  });

  it('finalizes a complete draft, recording how complete it was; no forced reason', () => {
    const events = decided(draftWith(exampleCharges), { ...finalize, completeness: complete });
    const final = events.find((e) => e.type === 'billing.InvoiceFinalized')!.payload as {
      completeness: unknown;
      forcedReason?: string;
    };
    expect(final.completeness).toEqual({
      coveredUntil: '2026-12-01T00:00:00.000Z',
      complete: true,
      missing: [],
    });
    expect(final.forcedReason).toBeUndefined();
  });

  it('forces an incomplete draft only with a written reason, which the event keeps with what was missing', () => {
    const events = decided(draftWith(exampleCharges), {
      ...finalize,
      completeness: incomplete,
      forceReason: 'customer contract requires the invoice on the 1st; metering outage acknowledged',
    });
    const final = events.find((e) => e.type === 'billing.InvoiceFinalized')!.payload as {
      completeness: { complete: boolean; missing: { reason: string }[] };
      forcedReason?: string;
    };
    expect(final.forcedReason).toMatch(/metering outage acknowledged/);
    expect(final.completeness.complete).toBe(false);
    expect(final.completeness.missing.map((m) => m.reason)).toEqual(['metering-behind']);
  });
});
