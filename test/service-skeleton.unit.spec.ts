import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Holds the service skeleton of docs/architecture.md ("The service skeleton"): controllers, Kafka handlers and
 * consumers live in `api/`; consumers are `api/<source>.consumer.ts` and register with Messaging in
 * `onModuleInit`, nowhere else.
 */
const root = join(__dirname, '..');
const apps = readdirSync(join(root, 'apps')).filter((app) =>
  statSync(join(root, 'apps', app, 'src')).isDirectory(),
);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.spec.ts') ? [path] : [];
  });
}

const files = apps.flatMap((app) =>
  sources(join(root, 'apps', app, 'src')).map((path) => ({
    path: relative(root, path),
    text: readFileSync(path, 'utf8'),
  })),
);
const registering = files.filter((f) => /\.register(Raw)?Consumer\(/.test(f.text));

describe('service skeleton', () => {
  it('finds the consumers it checks (the check would pass vacuously otherwise)', () => {
    expect(registering.length).toBeGreaterThanOrEqual(6);
  });

  it.each(registering.map((f) => [f.path, f.text]))(
    '%s: registers consumers only as api/<source>.consumer.ts',
    (path) => {
      expect(path).toMatch(/^apps\/[a-z]+\/src\/api\/[a-z-]+\.consumer\.ts$/);
    },
  );

  it.each(registering.map((f) => [f.path, f.text]))(
    '%s: registers in onModuleInit, not in the constructor',
    (_path, text) => {
      const hook = text.indexOf('onModuleInit(');
      expect(hook).toBeGreaterThan(-1);
      // Every registration call comes after the hook's start (the constructor comes before it in these classes).
      const calls = [...text.matchAll(/\.register(Raw)?Consumer\(/g)].map((m) => m.index ?? 0);
      expect(calls.every((at) => at > hook)).toBe(true);
      expect(text).toMatch(/implements OnModuleInit/);
    },
  );

  it('every consumer, controller and Kafka handler file is in an api/ folder', () => {
    const misplaced = files.filter(
      (f) => /\.(consumer|controller|kafka)\.ts$/.test(f.path) && !/\/src\/api\//.test(f.path),
    );
    expect(misplaced.map((f) => f.path)).toEqual([]);
  });
});
