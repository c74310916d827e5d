import { AllocationPatterns } from './allocation/requests';
import { deadLetterTopic, Topics, topicName } from './topics';

/**
 * Who may do what on Kafka, as data (DESIGN.md section 5a): a service writes only its own topics and
 * reads only what it subscribes to. The broker denies everything else (StandardAuthorizer with
 * allow.everyone.if.no.acl.found=false). The bindings are applied by scripts/kafka-acls.ts at
 * `infra:up` and by the test harness for every test file's topic prefix.
 */

/** The SCRAM users of a deployment; the Kafka principal is `User:<name>`. */
export const KafkaUsers = {
  admin: 'admin',
  inventory: 'inventory',
  allocation: 'allocation',
  metering: 'metering',
  billing: 'billing',
  audit: 'audit',
  telemetry: 'telemetry',
} as const;

export type KafkaUser = (typeof KafkaUsers)[keyof typeof KafkaUsers];

export type KafkaServiceName = 'inventory' | 'allocation' | 'metering' | 'billing';

export interface ServiceTopics {
  /** Base name of the topic of the service's own events (it alone writes there). */
  events: string;
  /** Base names of the topics it subscribes to (events of others, its Kafka request topics). */
  consumes: readonly string[];
  /** Base names of the topics it answers Kafka requests on (Nest replies on `<pattern>.reply`). */
  replies: readonly string[];
}

/** Each service's topics; its *.options.ts reads its subscriptions from here, so the ACLs cannot drift. */
export const ServiceKafkaTopics: Readonly<Record<KafkaServiceName, ServiceTopics>> = {
  inventory: { events: Topics.inventoryEvents, consumes: [], replies: [] },
  allocation: {
    events: Topics.allocationEvents,
    consumes: [Topics.inventoryEvents, AllocationPatterns.place, AllocationPatterns.release],
    replies: [`${AllocationPatterns.place}.reply`, `${AllocationPatterns.release}.reply`],
  },
  metering: {
    events: Topics.meteringEvents,
    consumes: [Topics.allocationEvents, Topics.inventoryEvents, Topics.meteringTelemetry],
    replies: [],
  },
  billing: {
    events: Topics.billingEvents,
    consumes: [Topics.meteringEvents, Topics.allocationEvents, Topics.inventoryEvents],
    replies: [],
  },
};

export type KafkaAclOperation = 'READ' | 'WRITE' | 'CREATE' | 'DESCRIBE';

/** One ALLOW binding (host `*`). Kafka ACL names: a resource, a pattern type, a principal, an operation. */
export interface KafkaAclBinding {
  principal: `User:${string}`;
  resourceType: 'TOPIC' | 'GROUP';
  patternType: 'LITERAL' | 'PREFIXED';
  resourceName: string;
  operation: KafkaAclOperation;
}

function topicAcls(user: string, topics: readonly string[], operations: readonly KafkaAclOperation[]) {
  return topics.flatMap((resourceName) =>
    operations.map((operation): KafkaAclBinding => ({
      principal: `User:${user}`,
      resourceType: 'TOPIC',
      patternType: 'LITERAL',
      resourceName,
      operation,
    })),
  );
}

/** Consumer groups are the only prefixed grants: `<prefix><user>-`, e.g. `billing-usage`, `allocation-rpc-server`. */
function groupAcl(user: string, prefix: string): KafkaAclBinding {
  return {
    principal: `User:${user}`,
    resourceType: 'GROUP',
    patternType: 'PREFIXED',
    resourceName: `${prefix}${user}-`,
    operation: 'READ',
  };
}

/**
 * A service's bindings for one topic prefix (empty in production, one per test file in tests):
 * - its events topic and its reply topics: WRITE (an idempotent producer on Kafka >= 2.8 needs nothing
 *   more, KIP-679), DESCRIBE, CREATE (the service creates its topics at start, Nest's reply producer
 *   auto-creates);
 * - every topic it consumes: READ, DESCRIBE, CREATE (consumers may start before the producer did);
 *   WRITE and CREATE on that topic's `.dlq`, where its consumers put what they cannot process;
 * - DESCRIBE and CREATE on its own topic's `.dlq`, which it creates at start but others write;
 * - its consumer groups: READ on groups named `<prefix><service>-...`.
 */
export function serviceAclBindings(service: KafkaServiceName, prefix = ''): KafkaAclBinding[] {
  const topics = ServiceKafkaTopics[service];
  const full = (bases: readonly string[]) => bases.map((base) => topicName(base, prefix));
  const consumed = full(topics.consumes);
  return [
    ...topicAcls(service, full([topics.events, ...topics.replies]), ['WRITE', 'DESCRIBE', 'CREATE']),
    ...topicAcls(service, full([deadLetterTopic(topics.events)]), ['DESCRIBE', 'CREATE']),
    ...topicAcls(service, consumed, ['READ', 'DESCRIBE', 'CREATE']),
    ...topicAcls(service, consumed.map(deadLetterTopic), ['WRITE', 'DESCRIBE', 'CREATE']),
    groupAcl(service, prefix),
  ];
}

/** Every topic of a deployment: events, requests, replies and their dead-letter topics. */
export function allTopics(prefix = ''): string[] {
  const bases = new Set(
    Object.values(ServiceKafkaTopics).flatMap((t) => [t.events, ...t.consumes, ...t.replies]),
  );
  const topics = [...bases].map((base) => topicName(base, prefix));
  return [...topics, ...topics.map(deadLetterTopic)];
}

/** The audit tool reads every topic (finance verifies what was published), writes none; groups `<prefix>audit-`. */
export function auditAclBindings(prefix = ''): KafkaAclBinding[] {
  return [
    ...topicAcls(KafkaUsers.audit, allTopics(prefix), ['READ', 'DESCRIBE']),
    groupAcl(KafkaUsers.audit, prefix),
  ];
}

/** Node telemetry agents only produce samples: WRITE and DESCRIBE on the telemetry topic, nothing else. */
export function telemetryAgentAclBindings(prefix = ''): KafkaAclBinding[] {
  return topicAcls(
    KafkaUsers.telemetry,
    [topicName(Topics.meteringTelemetry, prefix)],
    ['WRITE', 'DESCRIBE'],
  );
}

/** All bindings of a deployment (or of one test file's prefix). The admin user is a super user and needs none. */
export function kafkaAclBindings(prefix = ''): KafkaAclBinding[] {
  const services = Object.keys(ServiceKafkaTopics) as KafkaServiceName[];
  return [
    ...services.flatMap((service) => serviceAclBindings(service, prefix)),
    ...auditAclBindings(prefix),
    ...telemetryAgentAclBindings(prefix),
  ];
}
