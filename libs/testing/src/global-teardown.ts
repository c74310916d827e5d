import { revokeKafkaTestGrants, StartedInfrastructure } from './infrastructure';
import { SIGNAL_HANDLER_KEY, STARTED_KEY } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  revokeKafkaTestGrants();
  const shared = globalThis as Record<string, unknown>;
  const onSignal = shared[SIGNAL_HANDLER_KEY] as ((signal: NodeJS.Signals) => void) | undefined;
  if (onSignal) {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  const infrastructure = shared[STARTED_KEY] as StartedInfrastructure | undefined;
  if (infrastructure && !process.env.KEEP_INFRA) await infrastructure.stop();
}
