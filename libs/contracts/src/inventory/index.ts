// Contracts of the inventory service: event definitions, payload schemas, shared fleet vocabulary.
export * from './fleet';
export * from './events';
export * from './power';
