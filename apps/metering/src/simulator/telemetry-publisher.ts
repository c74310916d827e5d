import { allocation, EventEnvelope, Topics, topicName } from '@fleetledger/contracts';
import { Producer } from 'kafkajs';
import { v7 as uuidv7 } from 'uuid';
import { demoPlacements, NodeAgentSimulator, SimulatedNode } from '../domain/node-agent-simulator';

export interface PublishOptions {
  producer: Producer;
  topicPrefix: string;
  simulator: NodeAgentSimulator;
  /** Samples per second to sustain. */
  rate: number;
  durationMs: number;
  /** Called about once a second with the running total. */
  onProgress?: (progress: { elapsedMs: number; sent: number }) => void;
  isStopped?: () => boolean;
  /**
   * `node-report` (default): one record per node report, the JSON array of its GPUs' samples (what an
   * agent reads at once; 4-8 times fewer records for the broker and both clients to handle);
   * `sample`: one record per sample.
   */
  encoding?: 'node-report' | 'sample';
}

const SLOT_MS = 50;
const MAX_IN_FLIGHT = 4;

/**
 * Publishes the simulator's samples to the telemetry topic at a steady rate, keyed by node, walking
 * the fleet node by node; every pass over the fleet is one reporting instant (its wall-clock start).
 * If the broker cannot keep up, the publisher falls behind and catches up in bigger sends.
 */
export async function publishTelemetry(
  options: PublishOptions,
): Promise<{ sent: number; elapsedMs: number }> {
  const topic = topicName(Topics.meteringTelemetry, options.topicPrefix);
  const fleet = options.simulator.fleet;
  const started = Date.now();
  let sent = 0;
  let nodeIndex = 0;
  let passInstant = started;
  let passInstantIso = new Date(passInstant).toISOString();
  let lastProgress = started;
  const inFlight: Promise<unknown>[] = [];
  for (;;) {
    const elapsedMs = Date.now() - started;
    if (elapsedMs >= options.durationMs || options.isStopped?.()) break;
    // At most ~4,000 samples (~700 KB) per send: under the broker's 1 MB record-batch limit per partition.
    const due = Math.min(Math.floor((options.rate * elapsedMs) / 1000) - sent, 4000);
    if (due <= 0) {
      await new Promise((resolve) => setTimeout(resolve, SLOT_MS));
      continue;
    }
    const messages: { key: string; value: string }[] = [];
    let count = 0;
    while (count < due) {
      const node: SimulatedNode = fleet[nodeIndex];
      if (options.encoding === 'sample')
        for (const sample of options.simulator.samplesOf(node, passInstant))
          messages.push({ key: node.nodeId, value: JSON.stringify(sample) });
      else
        messages.push({
          key: node.nodeId,
          value: options.simulator.reportJson(node, passInstant, passInstantIso),
        });
      count += node.gpuIds.length;
      nodeIndex += 1;
      if (nodeIndex === fleet.length) {
        nodeIndex = 0;
        passInstant = Math.max(passInstant + 1, Date.now());
        passInstantIso = new Date(passInstant).toISOString();
      }
    }
    // A few sends in flight at once: the broker round trip, not the CPU, bounds one send at a time.
    inFlight.push(options.producer.send({ topic, acks: 1, messages }));
    if (inFlight.length >= MAX_IN_FLIGHT) await inFlight.shift();
    sent += count;
    if (Date.now() - lastProgress >= 1000) {
      lastProgress = Date.now();
      options.onProgress?.({ elapsedMs: lastProgress - started, sent });
    }
  }
  await Promise.all(inFlight);
  return { sent, elapsedMs: Date.now() - started };
}

/** Publishes demo WorkloadPlaced events for the fleet to the allocation topic (demos and benchmarks only). */
export async function publishDemoPlacements(
  producer: Producer,
  topicPrefix: string,
  fleet: readonly SimulatedNode[],
  options: { leases: number; share: number; placedAtMs: number },
): Promise<number> {
  const placements = demoPlacements(fleet, { ...options, gpusPerPlacement: 512 });
  const now = new Date(options.placedAtMs).toISOString();
  const envelopes: EventEnvelope[] = placements.map((p, i) => ({
    eventId: uuidv7(),
    type: allocation.WorkloadPlaced.type,
    schemaVersion: 1,
    streamId: `simulated-placements`,
    streamVersion: i + 1,
    globalPosition: i + 1,
    occurredAt: now,
    recordedAt: now,
    correlationId: 'node-agent-simulator',
    payload: {
      workloadId: p.workloadId,
      placementId: p.placementId,
      tenantId: p.tenantId,
      leaseId: p.leaseId,
      workloadClass: 'training',
      gpuClass: p.gpuClass,
      gpuIds: p.gpuIds,
      nodeIds: p.nodeIds,
      rackIds: ['sim-rack'],
      priority: 1,
      borrowed: false,
      placedAt: p.placedAt,
    } satisfies allocation.WorkloadPlacedPayload,
  }));
  // Small sends: a broker refuses record batches above its max message size (1 MB by default).
  for (let i = 0; i < envelopes.length; i += 20) {
    await producer.send({
      topic: topicName(Topics.allocationEvents, topicPrefix),
      acks: -1,
      messages: envelopes.slice(i, i + 20).map((e) => ({ key: e.streamId, value: JSON.stringify(e) })),
    });
  }
  return envelopes.length;
}
