// Contracts of the billing service: event definitions, payload schemas, request/reply shapes.
export {};
