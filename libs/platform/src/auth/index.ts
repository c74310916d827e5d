export * from './access.decorator';
export * from './auth.guard';
export * from './request-context';
export * from './request-context.interceptor';
export * from './tenant-scope';
export * from './throttle';
export * from './token-verifier';
export * from './dev-issuer';
