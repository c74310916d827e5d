import { stopInfrastructure } from './infrastructure';

export default async function globalTeardown(): Promise<void> {
  if (
    (globalThis as { __FLEETLEDGER_STARTED_KAFKA__?: boolean }).__FLEETLEDGER_STARTED_KAFKA__ &&
    !process.env.KEEP_INFRA
  ) {
    stopInfrastructure();
  }
}
