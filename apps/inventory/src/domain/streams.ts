import { inventory } from '@fleetledger/contracts';

/** The stream an event belongs to: its site, hall or rack (node and GPU events go on their rack's stream). */
export function streamOf(event: inventory.InventoryEvent): string {
  const streams = inventory.inventoryStreams;
  switch (event.type) {
    case 'inventory.SiteRegistered':
      return streams.site(event.payload.siteId);
    case 'inventory.HallRegistered':
      return streams.hall(event.payload.hallId);
    case 'inventory.PowerBudgetChanged': {
      const p = event.payload;
      return p.scope === 'site'
        ? streams.site(p.scopeId)
        : p.scope === 'hall'
          ? streams.hall(p.scopeId)
          : streams.rack(p.scopeId);
    }
    case 'inventory.PartitionWatermarkAdvanced':
      // Markers are appended on their partition's own stream (libs/eventstore/src/watermark.ts), never decided.
      throw new Error('inventory.PartitionWatermarkAdvanced is not a fleet command outcome');
    default:
      return streams.rack(event.payload.rackId);
  }
}
