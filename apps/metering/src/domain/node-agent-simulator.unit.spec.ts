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

  it('honours the class mix', () => {
    const fleet = generateFleet({ seed: 4, nodes: 50, classMix: { GB200: 1 } });
    expect(new Set(fleet.map((n) => n.gpuClass))).toEqual(new Set(['GB200']));
  });
});
