import { inventory } from '@fleetledger/contracts';
import { GpuClass } from '@fleetledger/contracts/metering';
import { HOUR_MS } from './quantities';

/**
 * The fleet side of utilization: how many GPUs of each class were healthy, and in service, at each
 * instant, from inventory's events (time = the event's occurredAt). With the allocated GPU time of
 * the usage records this gives the operator's figure, allocated / healthy fleet ("40% -> 85%").
 *
 * - healthy: effective health `healthy` (the only GPUs allocation may place on);
 * - in service: commissioned and not decommissioned (healthy, degraded, failed or draining).
 */
export type GpuHealth = inventory.GpuHealth;

export interface GpuHealthChange {
  gpuId: string;
  health: GpuHealth;
}

/** Inventory event types that set GPUs' effective health (the others do not move the counts). */
export const HEALTH_EVENT_TYPES: ReadonlySet<string> = new Set([
  'inventory.NodesCommissioned',
  'inventory.GpuHealthChanged',
  'inventory.NodeDrainStarted',
  'inventory.RackDrainStarted',
  'inventory.NodeUndrained',
  'inventory.RackUndrained',
  'inventory.NodeDecommissioned',
]);

/** The GPUs an inventory event sets the effective health of, and their class; none for other events. */
export function healthChangesOf(event: {
  type: string;
  payload: unknown;
}): { gpuClass: GpuClass; changes: GpuHealthChange[] } | undefined {
  const e = event as inventory.InventoryEvent;
  switch (e.type) {
    case 'inventory.NodesCommissioned':
      return {
        gpuClass: e.payload.gpuClass,
        changes: e.payload.nodes.flatMap((n) => n.gpus.map((g) => ({ gpuId: g.gpuId, health: g.health }))),
      };
    case 'inventory.GpuHealthChanged':
      return {
        gpuClass: e.payload.gpuClass,
        changes: [{ gpuId: e.payload.gpuId, health: e.payload.health }],
      };
    case 'inventory.NodeDrainStarted':
    case 'inventory.RackDrainStarted':
      return {
        gpuClass: e.payload.gpuClass,
        changes: e.payload.gpuIds.map((gpuId) => ({ gpuId, health: 'draining' as const })),
      };
    case 'inventory.NodeUndrained':
    case 'inventory.RackUndrained':
      return {
        gpuClass: e.payload.gpuClass,
        changes: e.payload.gpus.map((g) => ({ gpuId: g.gpuId, health: g.health })),
      };
    case 'inventory.NodeDecommissioned':
      return {
        gpuClass: e.payload.gpuClass,
        changes: e.payload.gpuIds.map((gpuId) => ({ gpuId, health: 'decommissioned' as const })),
      };
    default:
      return undefined;
  }
}

export interface FleetDelta {
  healthy: number;
  inService: number;
}

const counts = (health: GpuHealth | undefined): FleetDelta => ({
  healthy: health === 'healthy' ? 1 : 0,
  inService: health !== undefined && health !== 'decommissioned' ? 1 : 0,
});

/** How the class's counts move when these GPUs go from `previous` health (undefined: unknown GPU) to the new one. */
export function fleetDelta(
  previous: ReadonlyMap<string, GpuHealth>,
  changes: readonly GpuHealthChange[],
): FleetDelta {
  return applyHealthChanges(new Map(previous), changes);
}

/** fleetDelta on a map it updates in place (so a fold over many events copies nothing). */
function applyHealthChanges(
  current: Map<string, GpuHealth>,
  changes: readonly GpuHealthChange[],
): FleetDelta {
  const delta = { healthy: 0, inService: 0 };
  for (const { gpuId, health } of changes) {
    const before = counts(current.get(gpuId));
    const after = counts(health);
    delta.healthy += after.healthy - before.healthy;
    delta.inService += after.inService - before.inService;
    current.set(gpuId, health);
  }
  return delta;
}

/** One inventory event's health changes, at the event's occurredAt. */
export interface FleetHealthEvent {
  gpuClass: GpuClass;
  at: string;
  changes: readonly GpuHealthChange[];
}

export interface FleetFold {
  /**
   * Every GPU the events named, with its last health; `gpuClass` is the class of the first event
   * that named it (what a GPU new to the fleet is recorded with; a known GPU keeps its class).
   */
  gpus: Map<string, { gpuClass: GpuClass; health: GpuHealth }>;
  /**
   * Summed count changes per (class, at) key, for the keys where at least one event moved a count
   * (an event that moves nothing writes no row; two that cancel out at one instant leave a 0 row).
   */
  classChanges: Map<string, { gpuClass: GpuClass; at: string; healthy: number; inService: number }>;
}

/**
 * Many events in order, as applying them one at a time would: each event's delta against the health
 * its predecessors left (`previous`: the known GPUs' health before the first event).
 */
export function foldFleetEvents(
  previous: ReadonlyMap<string, GpuHealth>,
  events: readonly FleetHealthEvent[],
): FleetFold {
  const current = new Map(previous);
  const fold: FleetFold = { gpus: new Map(), classChanges: new Map() };
  for (const event of events) {
    const delta = applyHealthChanges(current, event.changes);
    for (const { gpuId, health } of event.changes) {
      const gpu = fold.gpus.get(gpuId);
      if (gpu) gpu.health = health;
      else fold.gpus.set(gpuId, { gpuClass: event.gpuClass, health });
    }
    if (delta.healthy === 0 && delta.inService === 0) continue;
    const key = `${event.gpuClass}|${event.at}`;
    const change = fold.classChanges.get(key);
    if (change) {
      change.healthy += delta.healthy;
      change.inService += delta.inService;
    } else {
      fold.classChanges.set(key, { gpuClass: event.gpuClass, at: event.at, ...delta });
    }
  }
  return fold;
}

/**
 * GPU-milliseconds per UTC hour of a step function: `startCount` GPUs at `fromMs`, then each change
 * adds its delta from its instant on. Hours in `[fromMs, toMs)`, both on whole hours; changes must be
 * sorted by time and lie in `[fromMs, toMs)`.
 */
export function gpuMsPerHour(
  startCount: number,
  changes: readonly { atMs: number; delta: number }[],
  fromMs: number,
  toMs: number,
): Map<number, number> {
  const result = new Map<number, number>();
  let count = startCount;
  let cursor = fromMs;
  let next = 0;
  for (let hour = fromMs; hour < toMs; hour += HOUR_MS) {
    const end = hour + HOUR_MS;
    let total = 0;
    while (next < changes.length && changes[next].atMs < end) {
      total += count * (changes[next].atMs - cursor);
      cursor = changes[next].atMs;
      count += changes[next].delta;
      next += 1;
    }
    total += count * (end - cursor);
    cursor = end;
    result.set(hour, total);
  }
  return result;
}

/** allocated / healthy, 4 decimals; null when no healthy GPU time is known (no fleet events yet). */
export function allocatedShareOfHealthy(allocatedGpuMs: number, healthyGpuMs: number): number | null {
  if (healthyGpuMs <= 0) return null;
  return Math.round((allocatedGpuMs / healthyGpuMs) * 10_000) / 10_000;
}
