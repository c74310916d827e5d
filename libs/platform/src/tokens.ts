export const SERVICE_OPTIONS = Symbol('SERVICE_OPTIONS');
export const SERVICE_ENV = Symbol('SERVICE_ENV');
export const KAFKA = Symbol('KAFKA');
export const PRODUCER = Symbol('PRODUCER');
export const AUTH_ENV = Symbol('AUTH_ENV');
