export * from './infrastructure';
export * from './kafka-test';
export * from './test-database';
export * from './service-app';
