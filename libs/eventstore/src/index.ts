/**
 * The event store's public API: the store, transactions, projections, the outbox relay and the inbox
 * consumer, and the Kafka client set-up a service needs. Kafka administration (topics, ACLs) is a
 * separate entry, `@fleetledger/eventstore/kafka-admin`, for provisioning scripts and test harnesses.
 */
export * from './command-handler';
export { DeadLetter, DeadLetterPublisher } from './dead-letter';
export * from './decider';
export {
  InvalidEventError,
  MissingPrincipalError,
  PoisonMessageError,
  WrongExpectedVersionError,
} from './errors';
export {
  AppendContext,
  EventStore,
  EventStoreOptions,
  ExpectedVersion,
  headersFor,
  StreamAppend,
} from './event-store';
export { ChainBreak, ChainVerification } from './hash-chain';
export {
  BatchEventHandler,
  EventHandler,
  InboxConsumer,
  InboxConsumerOptions,
  nextOffset,
  parseEventMessage,
  RawBatch,
  RawBatchHandler,
  RawBatchResult,
  RawConsumerOptions,
} from './inbox-consumer';
export { InboxRow, readInbox } from './inbox';
export { createIdempotentProducer, createKafka, KafkaSettings, kafkaSettingsFromEnv } from './kafka';
export { KafkaCredentials, kafkaSecurityFromEnv, KafkaSecurityEnv, KafkaTls } from './kafka-security';
export { OutboxRelay, OutboxRelayOptions } from './outbox-relay';
export {
  applyAll,
  compareProjection,
  Projection,
  ProjectionRunner,
  readProjectionSource,
  rebuildProjection,
  rebuildProjections,
  RebuildOptions,
  ReplayProgress,
  TableComparison,
  tableChecksum,
} from './projection';
export { createEventLogSealMigration, createEventStoreMigration, eventStoreDdl } from './schema';
export { createSchemaIfMissingSql, ident, Queryable } from './sql';
export { DEFAULT_TRANSACTION_LIMITS, runInTransaction, TransactionLimits } from './transaction';
