export * from './envelope';
export * from './event-definition';
export * from './registry';
export * from './topics';
export * from './kafka-acls';
export * as inventory from './inventory';
export * as allocation from './allocation';
export * as metering from './metering';
export * as billing from './billing';
