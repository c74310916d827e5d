export * from './envelope';
export * from './event-definition';
export * from './principal';
export * from './registry';
export * from './topics';
export * as inventory from './inventory';
export * as allocation from './allocation';
export * as metering from './metering';
export * as billing from './billing';
