/**
 * Kafka administration, apart from the event store's public API: creating topics and applying or
 * revoking ACL bindings. Used by provisioning (scripts/kafka-acls.ts), the services' start-up topic check
 * and the test harnesses; import it as `@fleetledger/eventstore/kafka-admin`.
 */
export { ensureTopics } from './kafka';
export {
  applyAclBindings,
  KAFKA_SASL_MECHANISMS,
  KafkaSaslConfigurationError,
  KafkaSaslEnv,
  kafkaSaslFromEnv,
  KafkaSaslMechanism,
  revokeAclBindings,
  toAclEntry,
} from './kafka-security';
