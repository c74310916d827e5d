import { revokeKafkaTestGrants, stopInfrastructure } from './infrastructure';

export default async function globalTeardown(): Promise<void> {
  revokeKafkaTestGrants();
  if (
    (globalThis as { __FLEETLEDGER_STARTED_KAFKA__?: boolean }).__FLEETLEDGER_STARTED_KAFKA__ &&
    !process.env.KEEP_INFRA
  ) {
    stopInfrastructure();
  }
}
