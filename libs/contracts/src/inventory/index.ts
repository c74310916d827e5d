// Contracts of the inventory service: event definitions, payload schemas, request/reply shapes.
export {};
