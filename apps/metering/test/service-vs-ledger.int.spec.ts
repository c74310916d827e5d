import { mulberry32, Topics, topicName } from '@fleetledger/contracts';
import { metering } from '@fleetledger/contracts';
import { Messaging } from '@fleetledger/platform';
import {
  api,
  startTestService,
  testKafka,
  TestService,
  TopicCollector,
  topicOwnersProducer,
  waitUntil,
} from '@fleetledger/testing';
import { DataSource } from 'typeorm';
import { placementFactFrom } from '../src/domain/attribution';
import { MeteringLedger } from '../src/domain/metering-ledger';
import { MeteringModule } from '../src/metering.module';
import { meteringService } from '../src/metering.options';
import { UsageQueries } from '../src/queries/usage.queries';
import { at, placed, released, sample } from './fixtures';

const LATENESS_MS = 5 * 60_000;

/** Final totals per usage record: the record, or the totalsAfter of its last correction. */
function finalTotals(events: { type: string; payload: Record<string, unknown> }[]) {
  const totals = new Map<string, unknown>();
  const seq = new Map<string, number>();
  for (const { type, payload } of events) {
    if (type === metering.UsageRecorded.type) {
      const p = payload as metering.UsageRecordedPayload;
      if (!totals.has(p.usageRecordId)) {
        totals.set(p.usageRecordId, {
          gpuSecondsAllocated: p.gpuSecondsAllocated,
          gpuSecondsBusy: p.gpuSecondsBusy,
          energyWh: p.energyWh,
          sampleCount: p.sampleCount,
        });
      }
    } else if (type === metering.UsageCorrected.type) {
      const p = payload as metering.UsageCorrectedPayload;
      if (p.correctionSeq > (seq.get(p.usageRecordId) ?? 0)) {
        seq.set(p.usageRecordId, p.correctionSeq);
        totals.set(p.usageRecordId, p.totalsAfter);
      }
    }
  }
  return Object.fromEntries([...totals].sort(([a], [b]) => a.localeCompare(b)));
}

describe('the service agrees with the in-memory reference ledger (seeded random scenario)', () => {
  let service: TestService;
  let collector: TopicCollector;

  beforeAll(async () => {
    service = await startTestService(MeteringModule, meteringService, {
      env: { METERING_CLOSE_INTERVAL_MS: '0', METERING_LATENESS_MS: String(LATENESS_MS) },
    });
    collector = await new TopicCollector(testKafka()).start([
      topicName(Topics.meteringEvents, service.topicPrefix),
    ]);
  });

  afterAll(async () => {
    await collector?.stop();
    await service?.stop();
  });

  it('same final usage per record after duplicates, shuffling, late samples and a late release', async () => {
    const random = mulberry32(42);
    const ledger = new MeteringLedger(LATENESS_MS);
    const groups = [0, 1, 2, 3].map((g) => [0, 1, 2, 3].map((i) => `g${g}-${i}`));
    const leases = ['lease-x', 'lease-y', 'lease-z'];
    // Each GPU group: a first placement, released at a random minute, then a second one that stays.
    const early = groups.flatMap((gpus, g) => {
      const releaseMinute = 20 + Math.floor(random() * 120);
      const switchAt = new Date(Date.parse(at('00:00:00')) + releaseMinute * 60_000).toISOString();
      const [first, second] = [leases[g % 3], leases[(g + 1) % 3]];
      return [
        placed(`p${g}a`, first, `tenant-${first}`, 'H100', gpus, at('00:00:00')),
        released(`p${g}a`, first, `tenant-${first}`, 'H100', gpus, switchAt),
        placed(`p${g}b`, second, `tenant-${second}`, 'H100', gpus, switchAt),
      ];
    });
    const lateRelease = released('p0b', leases[1], `tenant-${leases[1]}`, 'H100', groups[0], at('02:30:00'));

    const samples = groups
      .flat()
      .flatMap((gpuId) =>
        Array.from({ length: 18 }, (_, k) =>
          sample(
            `${gpuId}@${k}`,
            gpuId,
            new Date(Date.parse(at('00:10:00')) + k * 10 * 60_000).toISOString(),
            Math.round(random() * 1000) / 1000,
            Math.round(random() * 7000) / 10,
          ),
        ),
      );
    const withDuplicates = [...samples, ...samples.filter(() => random() < 0.1)].sort(() => random() - 0.5);
    const phase1 = withDuplicates.filter(
      (s) => Date.parse(s.sampledAt) < Date.parse(at('02:00:00')) && random() < 0.8,
    );
    const phase2 = withDuplicates.filter((s) => !phase1.includes(s));

    const allocationTopic = topicName(Topics.allocationEvents, service.topicPrefix);
    const producer = topicOwnersProducer(service.topicPrefix);
    await producer.connect();
    const db = service.app.get(DataSource);
    const queries = service.app.get(UsageQueries);
    const ingest = async (batch: typeof samples) => {
      for (let i = 0; i < batch.length; i += 100) {
        await api(service.url)
          .post('/metering/samples')
          .send({ samples: batch.slice(i, i + 100) })
          .expect(200);
      }
    };
    const close = async (asOf: string) => {
      await api(service.url).post('/metering/windows/close').send({ asOf }).expect(200);
      return ledger.close(Date.parse(asOf));
    };

    // Phase 1: placements race the samples; wait until every placement fact is applied.
    await producer.send({
      topic: allocationTopic,
      acks: -1,
      messages: early.map((e) => ({ key: e.streamId, value: JSON.stringify(e) })),
    });
    for (const event of early) ledger.applyPlacement(placementFactFrom(event)!);
    await ingest(phase1);
    ledger.ingest(phase1);
    await waitUntil(
      async () => {
        const [row] = await db.query(
          `SELECT count(*)::int AS n FROM metering.placements WHERE start_at IS NOT NULL`,
        );
        const [ended] = await db.query(
          `SELECT count(*)::int AS n FROM metering.placements WHERE end_at IS NOT NULL`,
        );
        return row.n === 8 && ended.n === 4;
      },
      30_000,
      'placements applied',
    );
    await close(at('02:05:00'));

    // Phase 2: the rest (late for closed hours), a late release, and two more closes.
    await ingest(phase2);
    ledger.ingest(phase2);
    await producer.send({
      topic: allocationTopic,
      acks: -1,
      messages: [{ key: lateRelease.streamId, value: JSON.stringify(lateRelease) }],
    });
    ledger.applyPlacement(placementFactFrom(lateRelease)!);
    await waitUntil(
      async () => {
        const [row] = await db.query(`SELECT end_at FROM metering.placements WHERE placement_id = 'p0b'`);
        return row?.end_at != null;
      },
      30_000,
      'late release applied',
    );
    const ledgerEvents = [...(await close(at('03:10:00'))), ...(await close(at('04:10:00')))];
    await producer.disconnect();

    await service.app.get(Messaging).flushOutbox();
    const [{ n: appended }] = await db.query(`SELECT count(*)::int AS n FROM metering.events`);
    const published = await collector.waitFor((m) => m.length >= appended);
    const serviceFinal = finalTotals(
      published.map((m) => m.value as { type: string; payload: Record<string, unknown> }),
    );

    // The ledger's own outputs over all closes (it was closed at 02:05 too, inside `close`).
    const ledgerReplay = new MeteringLedger(LATENESS_MS);
    for (const event of [...early, lateRelease]) ledgerReplay.applyPlacement(placementFactFrom(event)!);
    ledgerReplay.ingest(withDuplicates);
    const ledgerFinal = finalTotals(
      ledgerReplay.close(Date.parse(at('04:10:00'))).map((o) => ({
        type: o.type === 'recorded' ? metering.UsageRecorded.type : metering.UsageCorrected.type,
        payload: o.payload as unknown as Record<string, unknown>,
      })),
    );

    expect(Object.keys(serviceFinal).length).toBeGreaterThanOrEqual(9);
    expect(serviceFinal).toEqual(ledgerFinal);
    expect(ledgerEvents.some((o) => o.type === 'corrected')).toBe(true);
    const pending = await queries.pending();
    expect(pending.accepted).toBe(samples.length);
    expect(pending.awaitingClose + pending.awaitingCorrection).toBe(0);
    expect(pending.rated + pending.unattributed).toBe(samples.length);
  });
});
