export * from './envelope';
export * from './event-definition';
export * from './registry';
export * from './topics';
