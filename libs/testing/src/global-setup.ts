import { prepareTestAuth } from './test-auth-setup';
import { ensureInfrastructure, recordKafkaTestGrants } from './infrastructure';

export default async function globalSetup(): Promise<void> {
  await prepareTestAuth();
  const started = await ensureInfrastructure((line) => process.stderr.write(`\n[test infra] ${line}\n`));
  recordKafkaTestGrants();
  (globalThis as { __FLEETLEDGER_STARTED_KAFKA__?: boolean }).__FLEETLEDGER_STARTED_KAFKA__ = started;
}
