export * from './infrastructure';
export * from './kafka-test';
export * from './kafka-auth';
export * from './test-database';
export * from './service-app';
export * from './example-service/account';
export * from './example-service/example.module';
