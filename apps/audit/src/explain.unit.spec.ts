import { formatGpuHours, InvoiceExplanation, LocatedEvent, summarizeExplanation } from './explain';

const event = (service: string, globalPosition: number, type: string, recordedAt: string): LocatedEvent => ({
  service,
  eventId: `${service}-${globalPosition}`,
  type,
  streamId: 's',
  globalPosition,
  recordedAt,
  payload: {},
});

describe('audit explain, pure parts', () => {
  it.each([
    [3_600_000n, '+1.000'],
    [-3_600_000n, '-1.000'],
    [1_800n, '+0.001'], // half a thousandth rounds away from zero
    [1_799n, '+0.000'],
    [9_000_000n, '+2.500'],
  ])('%s milli-GPU-seconds are %s GPU-h', (milli, text) => {
    expect(formatGpuHours(milli)).toBe(text);
  });

  it('a line summary counts sources by type, names the first and last by time, and counts what is missing', () => {
    const late = event('metering', 9, 'metering.UsageRecorded', '2026-11-03T00:00:00.000Z');
    const early = event('metering', 2, 'metering.UsageRecorded', '2026-11-01T00:00:00.000Z');
    const explanation: InvoiceExplanation = {
      invoiceNumber: 1,
      invoiceId: 'i',
      tenantId: 't',
      period: '2026-11',
      status: 'finalized',
      totalMinor: '1',
      history: [],
      absorbedCorrections: [
        {
          event: event('billing', 7, 'billing.CorrectionAbsorbed', '2026-12-05T00:00:00.000Z'),
          milliGpuSeconds: '7200000',
          sourceEventIds: ['c'],
          lines: [],
        },
      ],
      lines: [
        {
          lineNo: 1,
          kind: 'gpu-usage',
          gpuClass: 'H100',
          leaseId: 'L',
          quantity: '1',
          quantityUnit: 'milli-gpu-second',
          amountMinor: '1',
          sources: [
            {
              event: late,
              placements: [event('allocation', 3, 'allocation.WorkloadPlaced', '2026-10-31T00:00:00.000Z')],
              samples: { count: 5, sampleIds: [] },
            },
            { event: early, placements: [], samples: { count: 7, sampleIds: [] } },
            {
              event: { eventId: 'gone', missing: true },
              placements: [],
              samples: { count: 0, sampleIds: [] },
            },
          ],
          lease: [],
          ratePlan: [],
        },
      ],
    };
    const summary = summarizeExplanation(explanation);
    expect(summary.notes).toEqual(['correction of +2.000 GPU-h absorbed by the commitment']);
    expect(summary.lines[0]).toMatchObject({
      sources: {
        count: 2,
        missing: 1,
        byType: { 'metering.UsageRecorded': 2 },
        first: { eventId: 'metering-2' },
        last: { eventId: 'metering-9' },
      },
      placements: 1,
      rawSamples: 12,
      lease: { count: 0, byType: {} },
    });
  });
});
