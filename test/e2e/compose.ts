import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Running docker-compose.yml from a test: whichever compose implementation talks to the engine's Docker API
 * (Docker Compose v2 as `docker compose`, or Debian's docker-compose 1.29 against podman's API), and the
 * engine's CLI (docker or podman) for what compose does not show (exit codes, health checks).
 */
const run = promisify(execFile);
export const REPO = path.resolve(__dirname, '..', '..');

function works(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

export interface ComposeTools {
  compose: string[]; // the command and its leading arguments
  engine: 'docker' | 'podman';
}

/** The tools, or why the platform cannot run here. */
export function composeTools(): ComposeTools | string {
  const engine = works('podman', ['version'])
    ? 'podman'
    : works('docker', ['version'])
      ? 'docker'
      : undefined;
  if (!engine) return 'no container engine CLI (docker or podman)';
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock'))
    return 'no Docker API (set DOCKER_HOST, e.g. unix:///run/podman/podman.sock)';
  if (works('docker', ['compose', 'version'])) return { compose: ['docker', 'compose'], engine };
  if (works('docker-compose', ['version'])) return { compose: ['docker-compose'], engine };
  return 'no compose implementation (docker compose or docker-compose)';
}

export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export class ComposeProject {
  private healthTimer?: NodeJS.Timeout;
  private healthRunning = false;

  constructor(
    readonly tools: ComposeTools,
    readonly name: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async compose(args: string[], timeoutMs = 600_000): Promise<string> {
    const [command, ...leading] = this.tools.compose;
    const { stdout, stderr } = await run(command, [...leading, '-f', 'docker-compose.yml', ...args], {
      cwd: REPO,
      env: { ...this.env, COMPOSE_PROJECT_NAME: this.name },
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return `${stdout}${stderr}`;
  }

  async engine(args: string[]): Promise<string> {
    const { stdout } = await run(this.tools.engine, args, { timeout: 60_000 });
    return stdout.trim();
  }

  /** The container of one compose service (label filters: the same on docker and podman). */
  async containerOf(service: string): Promise<string | undefined> {
    const ids = await this.engine([
      'ps',
      '-aq',
      '--filter',
      `label=com.docker.compose.project=${this.name}`,
      '--filter',
      `label=com.docker.compose.service=${service}`,
    ]);
    return ids.split('\n').filter(Boolean)[0];
  }

  async exitCode(service: string): Promise<number | undefined> {
    const id = await this.containerOf(service);
    if (!id) return undefined;
    const [status, code] = (
      await this.engine(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', id])
    ).split(' ');
    return status === 'exited' ? Number(code) : undefined;
  }

  /**
   * podman schedules health checks with systemd timers; without systemd nothing runs them, and compose would
   * wait forever for `service_healthy`. Here the test runs each not-yet-healthy check itself, every 2 s, as the
   * timer would. Docker, and podman with systemd, need none of this.
   */
  startHealthChecks(): void {
    if (this.tools.engine !== 'podman' || existsSync('/run/systemd/private')) return;
    this.healthTimer = setInterval(() => {
      if (this.healthRunning) return;
      this.healthRunning = true;
      void this.runPendingHealthChecks().finally(() => (this.healthRunning = false));
    }, 3_000);
  }

  private async runPendingHealthChecks(): Promise<void> {
    try {
      const lines = await this.engine([
        'ps',
        '--filter',
        `label=com.docker.compose.project=${this.name}`,
        '--format',
        '{{.ID}} {{.Status}}',
      ]);
      const pending = lines
        .split('\n')
        .filter((line) => /\((starting|unhealthy)\)/.test(line))
        .map((line) => line.split(' ')[0]);
      await Promise.all(
        pending.map((id) => run('podman', ['healthcheck', 'run', id]).catch(() => undefined)),
      );
    } catch {
      /* the next tick tries again */
    }
  }

  stopHealthChecks(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
  }
}
