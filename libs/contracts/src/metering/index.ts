// Contracts of the metering service: event definitions, payload schemas, request/reply shapes.
export * from './events';
