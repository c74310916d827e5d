import { EventRegistry } from '@fleetledger/contracts';
import { Projection } from '@fleetledger/eventstore';
import { MigrationInterface } from 'typeorm';

/** What a service tells the platform about itself. */
export interface ServiceOptions {
  /** inventory | allocation | metering | billing */
  service: string;
  /** The Postgres schema the service owns (event store, inbox, projections). */
  schema: string;
  /** Its migrations, oldest first; the event-store migration comes first. */
  migrations: (new () => MigrationInterface)[];
  /** Every event type it appends or consumes. */
  registry: EventRegistry;
  /** The base name of the topic its own events are published to (Topics.*). */
  eventsTopic: string;
  /** Base names of the topics it consumes, so they exist before consumers start. */
  consumedTopics?: string[];
  /** Its projections, so finance can replay and reconcile them (`npm run audit`). */
  projections?: Projection[];
  /** Title and description for the OpenAPI document. */
  openApi?: { title: string; description: string };
}
