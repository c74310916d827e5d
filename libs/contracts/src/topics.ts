/**
 * Every Kafka topic FleetLedger uses. Names carry the domain and the contract version;
 * a breaking change is a new version (STYLE.md, "Kafka in Nest").
 *
 * KAFKA_TOPIC_PREFIX namespaces a whole deployment (or one test run) on a shared broker; it is
 * empty in production.
 */
export const Topics = {
  inventoryEvents: 'inventory.events.v1',
  allocationEvents: 'allocation.events.v1',
  meteringEvents: 'metering.events.v1',
  meteringTelemetry: 'metering.telemetry.v1',
  billingEvents: 'billing.events.v1',
} as const;

export type TopicName = (typeof Topics)[keyof typeof Topics];

export function topicName(base: string, prefix: string = process.env.KAFKA_TOPIC_PREFIX ?? ''): string {
  return `${prefix}${base}`;
}

export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}
