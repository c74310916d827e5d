import { TelemetrySample } from '@fleetledger/contracts/metering';
import { PlacementFact } from './attribution';
import { MeteringLedger, MeteringOutput } from './metering-ledger';
import { sampleIdDigest } from './quantities';

const LATENESS_MS = 5 * 60_000;
const T = (hhmmss: string) => Date.parse(`2026-03-01T${hhmmss}Z`);
const GPUS = ['g1', 'g2', 'g3', 'g4'];

function placed(placementId: string, at: string, gpuIds = GPUS, leaseId = 'lease-a'): PlacementFact {
  return {
    kind: 'opened',
    eventId: `placed-${placementId}`,
    placementId,
    workloadId: `w-${placementId}`,
    leaseId,
    tenantId: 'tenant-a',
    gpuClass: 'H100',
    gpuIds,
    atMs: T(at),
  };
}

function released(placementId: string, at: string, gpuIds = GPUS, leaseId = 'lease-a'): PlacementFact {
  return {
    ...placed(placementId, at, gpuIds, leaseId),
    kind: 'closed',
    cause: 'released',
    eventId: `released-${placementId}`,
  };
}

function sample(id: string, at: string, gpuId = 'g1', utilization = 0.5, powerW = 700): TelemetrySample {
  return { sampleId: id, gpuId, nodeId: 'n1', sampledAt: new Date(T(at)).toISOString(), utilization, powerW };
}

type Step = { placement: PlacementFact } | { samples: TelemetrySample[] } | { close: string };

interface Case {
  name: string;
  steps: Step[];
  /** Expected outputs of the LAST close step, as compact summaries. */
  expected: string[];
}

/** recorded|corrected hourStart(hh) allocated busy energy count [reason] */
function summary(output: MeteringOutput): string {
  const hour = output.payload.hourStart.slice(11, 13);
  if (output.type === 'recorded') {
    const p = output.payload;
    return `recorded ${p.leaseId} ${hour} alloc=${p.gpuSecondsAllocated} busy=${p.gpuSecondsBusy} wh=${p.energyWh} n=${p.sampleCount}`;
  }
  const p = output.payload;
  return `corrected#${p.correctionSeq} ${p.leaseId} ${hour} ${p.reason} dAlloc=${p.delta.gpuSecondsAllocated} dBusy=${p.delta.gpuSecondsBusy} dWh=${p.delta.energyWh} dN=${p.delta.sampleCount}`;
}

function run(steps: Step[]): MeteringOutput[] {
  const ledger = new MeteringLedger(LATENESS_MS);
  let last: MeteringOutput[] = [];
  for (const step of steps) {
    if ('placement' in step) ledger.applyPlacement(step.placement);
    else if ('samples' in step) ledger.ingest(step.samples);
    else last = ledger.close(T(step.close));
  }
  return last;
}

const cases: Case[] = [
  {
    name: 'a GPU with no samples still meters its allocated time',
    steps: [{ placement: placed('p1', '00:00:00') }, { close: '01:05:00' }],
    expected: ['recorded lease-a 00 alloc=14400.000 busy=0.000 wh=0.000 n=0'],
  },
  {
    name: 'a window is not closed before its lateness has passed',
    steps: [{ placement: placed('p1', '00:00:00') }, { close: '01:04:59' }],
    expected: [],
  },
  {
    name: 'duplicates, in one batch and across batches, are counted once',
    steps: [
      { placement: placed('p1', '00:00:00') },
      { samples: [sample('s1', '00:10:00'), sample('s1', '00:10:00')] },
      { samples: [sample('s1', '00:10:00', 'g1', 0.9, 100)] },
      { close: '01:05:00' },
    ],
    expected: ['recorded lease-a 00 alloc=14400.000 busy=5.000 wh=1.944 n=1'],
  },
  {
    name: 'samples out of order give the same record as in order',
    steps: [
      { placement: placed('p1', '00:00:00') },
      {
        samples: [
          sample('s3', '00:30:00', 'g2', 1),
          sample('s1', '00:10:00', 'g1', 0.25),
          sample('s2', '00:20:00', 'g3', 0.75),
        ],
      },
      { close: '01:05:00' },
    ],
    expected: ['recorded lease-a 00 alloc=14400.000 busy=20.000 wh=5.833 n=3'],
  },
  {
    name: 'a late sample after close produces a correction, not an edit',
    steps: [
      { placement: placed('p1', '00:00:00') },
      { samples: [sample('s1', '00:10:00')] },
      { close: '01:05:00' },
      { samples: [sample('late', '00:50:00', 'g2', 1, 360)] },
      { close: '01:06:00' },
    ],
    expected: ['corrected#1 lease-a 00 late-samples dAlloc=0.000 dBusy=10.000 dWh=1.000 dN=1'],
  },
  {
    name: 'a placement released mid-hour splits allocated time across hours',
    steps: [
      { placement: placed('p1', '00:30:00') },
      { placement: released('p1', '02:15:00') },
      { close: '03:05:00' },
    ],
    expected: [
      'recorded lease-a 00 alloc=7200.000 busy=0.000 wh=0.000 n=0',
      'recorded lease-a 01 alloc=14400.000 busy=0.000 wh=0.000 n=0',
      'recorded lease-a 02 alloc=3600.000 busy=0.000 wh=0.000 n=0',
    ],
  },
  {
    name: 'a release learned after close corrects allocated time down',
    steps: [
      { placement: placed('p1', '00:00:00') },
      { close: '01:05:00' },
      { placement: released('p1', '00:45:00') },
      { close: '01:10:00' },
    ],
    expected: ['corrected#1 lease-a 00 late-placement-event dAlloc=-3600.000 dBusy=0.000 dWh=0.000 dN=0'],
  },
  {
    name: 'a release arriving before its placement is applied once the placement arrives',
    steps: [
      { placement: released('p1', '00:30:00') },
      { placement: placed('p1', '00:00:00') },
      { close: '01:05:00' },
    ],
    expected: ['recorded lease-a 00 alloc=7200.000 busy=0.000 wh=0.000 n=0'],
  },
  {
    name: 'a sample at 01:00:00 covers 00:59:50..01:00:00 and counts in hour 00',
    steps: [
      { placement: placed('p1', '00:00:00') },
      { samples: [sample('edge', '01:00:00')] },
      { close: '02:05:00' },
    ],
    expected: [
      'recorded lease-a 00 alloc=14400.000 busy=5.000 wh=1.944 n=1',
      'recorded lease-a 01 alloc=14400.000 busy=0.000 wh=0.000 n=0',
    ],
  },
  {
    name: "a sample after the release (by its midpoint) is not the lease's",
    steps: [
      { placement: placed('p1', '00:00:00') },
      { placement: released('p1', '00:30:00') },
      { samples: [sample('before', '00:30:04'), sample('after', '00:30:06')] },
      { close: '01:05:00' },
    ],
    expected: ['recorded lease-a 00 alloc=7200.000 busy=5.000 wh=1.944 n=1'],
  },
  {
    name: 'samples that arrived before their placement are rated once it is known',
    steps: [
      { samples: [sample('early', '00:10:00')] },
      { placement: placed('p1', '00:00:00') },
      { close: '01:05:00' },
    ],
    expected: ['recorded lease-a 00 alloc=14400.000 busy=5.000 wh=1.944 n=1'],
  },
  {
    name: 'two leases in one hour get one record each',
    steps: [
      { placement: placed('p1', '00:00:00', ['g1']) },
      { placement: placed('p2', '00:00:00', ['g2'], 'lease-b') },
      { samples: [sample('a', '00:10:00', 'g1'), sample('b', '00:10:00', 'g2')] },
      { close: '01:05:00' },
    ],
    expected: [
      'recorded lease-a 00 alloc=3600.000 busy=5.000 wh=1.944 n=1',
      'recorded lease-b 00 alloc=3600.000 busy=5.000 wh=1.944 n=1',
    ],
  },
  {
    name: 'a repeated close with nothing new emits nothing',
    steps: [{ placement: placed('p1', '00:00:00') }, { close: '01:05:00' }, { close: '01:06:00' }],
    expected: [],
  },
];

describe('MeteringLedger', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(run(c.steps).map(summary)).toEqual(c.expected);
  });

  it('energy of a full hour at 700 W is exactly 700 Wh per GPU', () => {
    const ledger = new MeteringLedger(LATENESS_MS);
    ledger.applyPlacement(placed('p1', '00:00:00', ['g1']));
    const samples = Array.from({ length: 360 }, (_, i) =>
      sample(`s${i}`, new Date(T('00:00:10') + i * 10_000).toISOString().slice(11, 19), 'g1', 1, 700),
    );
    ledger.ingest(samples);
    const [record] = ledger.close(T('01:05:00'));
    expect(record.payload).toMatchObject({
      energyWh: '700.000',
      gpuSecondsBusy: '3600.000',
      sampleCount: 360,
    });
  });

  it('the record digest is the digest of the sample ids it counts; a correction carries the digest of what it adds', () => {
    const ledger = new MeteringLedger(LATENESS_MS);
    ledger.applyPlacement(placed('p1', '00:00:00'));
    ledger.ingest([sample('a', '00:10:00'), sample('b', '00:20:00')]);
    const [record] = ledger.close(T('01:05:00'));
    expect(record.payload.sources.sampleDigest).toBe(sampleIdDigest(['b', 'a']));
    expect(record.payload.sources.placementEventIds).toEqual(['placed-p1']);
    ledger.ingest([sample('c', '00:30:00')]);
    const [correction] = ledger.close(T('01:06:00'));
    expect(correction.payload.sources.sampleDigest).toBe(sampleIdDigest(['c']));
  });

  it('every accepted sample is rated or visibly pending', () => {
    const ledger = new MeteringLedger(LATENESS_MS);
    ledger.applyPlacement(placed('p1', '00:00:00', ['g1']));
    ledger.ingest([
      sample('rated', '00:10:00', 'g1'),
      sample('open', '01:10:00', 'g1'),
      sample('idle', '00:10:00', 'g9'),
    ]);
    ledger.close(T('01:05:00'));
    expect(ledger.pending(T('01:05:00'))).toEqual({ awaitingClose: 1, unattributed: 1 });
  });
});
