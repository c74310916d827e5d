// Contracts of the billing service: event definitions, payload schemas, request/reply shapes.
// Every billing event is published on Topics.billingEvents ('billing.events.v1').
import { Topics } from '../topics';

export * from './money';
export * from './events';

export const billingTopic = Topics.billingEvents;
