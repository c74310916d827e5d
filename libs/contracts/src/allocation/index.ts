// Contracts of the allocation service: event definitions, payload schemas, request/reply shapes.
export * from './events';
export * from './requests';
