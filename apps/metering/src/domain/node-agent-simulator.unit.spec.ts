import { telemetrySampleSchema } from '@fleetledger/contracts/metering';
import { generateFleet, NodeAgentSimulator } from './node-agent-simulator';

const START = Date.parse('2026-03-01T00:00:10Z');

describe('node-agent simulator', () => {
  it('is deterministic from its seed', () => {
    const a = new NodeAgentSimulator(generateFleet({ seed: 7, nodes: 5 }), { seed: 7, startMs: START });
    const b = new NodeAgentSimulator(generateFleet({ seed: 7, nodes: 5 }), { seed: 7, startMs: START });
    expect(JSON.stringify([a.nextTick(), a.nextTick()])).toBe(JSON.stringify([b.nextTick(), b.nextTick()]));
  });

  it('a different seed gives a different fleet or different readings', () => {
    const a = new NodeAgentSimulator(generateFleet({ seed: 1, nodes: 5 }), { seed: 1, startMs: START });
    const b = new NodeAgentSimulator(generateFleet({ seed: 2, nodes: 5 }), { seed: 2, startMs: START });
    expect(JSON.stringify(a.nextTick())).not.toBe(JSON.stringify(b.nextTick()));
  });

  it('emits one valid, uniquely identified sample per GPU per tick, 10 s apart', () => {
    const fleet = generateFleet({ seed: 3, nodes: 20 });
    const simulator = new NodeAgentSimulator(fleet, { seed: 3, startMs: START });
    const first = simulator.nextTick();
    const second = simulator.nextTick();
    const samples = [...first.byNode, ...second.byNode].flatMap((n) => n.samples);
    expect(samples).toHaveLength(2 * simulator.gpuCount);
    expect(new Set(samples.map((s) => s.sampleId)).size).toBe(samples.length);
    expect(samples.every((s) => telemetrySampleSchema.safeParse(s).success)).toBe(true);
    expect(second.sampledAtMs - first.sampledAtMs).toBe(10_000);
  });

  it('reportJson is the JSON text of samplesOf: same readings, same bytes, over several instants', () => {
    const fleet = generateFleet({ seed: 5, nodes: 30 });
    const objects = new NodeAgentSimulator(fleet, { seed: 5, startMs: START });
    const text = new NodeAgentSimulator(fleet, { seed: 5, startMs: START });
    for (const atMs of [START, START + 10_000, START + 20_000]) {
      const iso = new Date(atMs).toISOString();
      for (const node of fleet)
        expect(text.reportJson(node, atMs, iso)).toBe(JSON.stringify(objects.samplesOf(node, atMs)));
    }
    // The readings move on (a random walk), so the same instant twice is not the same report.
    expect(text.reportJson(fleet[0], START, new Date(START).toISOString())).not.toBe(
      JSON.stringify(new NodeAgentSimulator(fleet, { seed: 5, startMs: START }).samplesOf(fleet[0], START)),
    );
  });

  it('reportJson escapes ids that JSON must escape (the same text as JSON.stringify)', () => {
    const fleet = [{ nodeId: 'rack "7"', gpuClass: 'H100' as const, gpuIds: ['gpu\\0', 'gpu"1'] }];
    const text = new NodeAgentSimulator(fleet, { seed: 1, startMs: START });
    const objects = new NodeAgentSimulator(fleet, { seed: 1, startMs: START });
    const json = text.reportJson(fleet[0], START, new Date(START).toISOString());
    expect(json).toBe(JSON.stringify(objects.samplesOf(fleet[0], START)));
    expect((JSON.parse(json) as { gpuId: string }[]).map((s) => s.gpuId)).toEqual(['gpu\\0', 'gpu"1']);
  });

  it('honours the class mix', () => {
    const fleet = generateFleet({ seed: 4, nodes: 50, classMix: { GB200: 1 } });
    expect(new Set(fleet.map((n) => n.gpuClass))).toEqual(new Set(['GB200']));
  });
});
