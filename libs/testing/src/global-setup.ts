import { prepareTestAuth } from './test-auth-setup';
import { ensureInfrastructure, recordKafkaTestGrants } from './infrastructure';

/** jest runs global setup and teardown in one context: teardown stops what setup started. */
export const STARTED_KEY = '__FLEETLEDGER_INFRASTRUCTURE__';
export const SIGNAL_HANDLER_KEY = '__FLEETLEDGER_INFRASTRUCTURE_ON_SIGNAL__';

export default async function globalSetup(): Promise<void> {
  await prepareTestAuth();
  const started = Date.now();
  const infrastructure = await ensureInfrastructure((line) =>
    process.stderr.write(`\n[test infra] ${line}\n`),
  );
  recordKafkaTestGrants();
  process.stderr.write(
    `[test infra] Kafka: ${infrastructure.plan.kafka}, PostgreSQL: ${infrastructure.plan.postgres}; set up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  (globalThis as Record<string, unknown>)[STARTED_KEY] = infrastructure;
  // Ctrl-C skips the global teardown; without Ryuk nothing else would remove the containers.
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n[test infra] ${signal}: stopping what global setup started\n`);
    void infrastructure.stop().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  (globalThis as Record<string, unknown>)[SIGNAL_HANDLER_KEY] = onSignal;
}
