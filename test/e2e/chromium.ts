import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Opens a local HTML file in headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH) as a finance
 * person's browser would: returns the DOM after scripts ran and a PNG screenshot. The flags keep Chromium off
 * the network (this machine's closed network refuses its background connections).
 */
export function openInChromium(htmlFile: string, screenshotFile: string): { dom: string; png: Buffer } {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(chromium))
    throw new Error(
      `headless Chromium is needed at ${chromium} (apt-get install chromium, or set CHROMIUM_PATH)`,
    );
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${mkdtempSync(path.join(tmpdir(), 'fl-chromium-'))}`,
  ];
  const page = `file://${htmlFile}`;
  const dom = spawnSync(chromium, [...flags, '--dump-dom', page], { encoding: 'utf8', timeout: 60_000 });
  if (dom.status !== 0) throw new Error(`chromium --dump-dom exited ${dom.status}: ${dom.stderr}`);
  const shot = spawnSync(
    chromium,
    [...flags, '--window-size=1000,1600', `--screenshot=${screenshotFile}`, page],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  if (shot.status !== 0) throw new Error(`chromium --screenshot exited ${shot.status}: ${shot.stderr}`);
  return { dom: dom.stdout, png: readFileSync(screenshotFile) };
}
