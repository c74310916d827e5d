import { StartedInfrastructure } from './infrastructure';
import { STARTED_KEY } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const infrastructure = (globalThis as Record<string, unknown>)[STARTED_KEY] as
    StartedInfrastructure | undefined;
  if (infrastructure && !process.env.KEEP_INFRA) await infrastructure.stop();
}
