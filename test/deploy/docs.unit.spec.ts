// docs/deploy.md states each workload's resources; k8s/base is the truth. This test keeps them one story.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDocuments, podTemplateOf, repoRoot } from './k8s-manifests';

interface Resources {
  requests: string;
  limits: string;
}

/** `| \`name\` | Kind | cpu / memory | cpu / memory |` rows of the resources table in docs/deploy.md. */
function documentedResources(markdown: string): Map<string, Resources & { kind: string }> {
  const rows = new Map<string, Resources & { kind: string }>();
  const row = /^\|\s*`([a-z0-9-]+)`\s*\|\s*(Deployment|Job|CronJob)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|$/gm;
  for (const [, name, kind, requests, limits] of markdown.matchAll(row))
    rows.set(name, { kind, requests: requests.replace(/\s+/g, ' '), limits: limits.replace(/\s+/g, ' ') });
  return rows;
}

function manifestResources(): Map<string, Resources & { kind: string }> {
  const found = new Map<string, Resources & { kind: string }>();
  for (const { content } of loadDocuments(join(repoRoot, 'k8s', 'base'))) {
    if (!['Deployment', 'Job', 'CronJob'].includes(content.kind)) continue;
    const container = podTemplateOf(content)?.spec?.containers[0];
    const resources = container?.resources;
    const pair = (values?: Record<string, unknown>) => `${String(values?.cpu)} / ${String(values?.memory)}`;
    found.set(content.metadata!.name!, {
      kind: content.kind,
      requests: pair(resources?.requests as Record<string, unknown> | undefined),
      limits: pair(resources?.limits as Record<string, unknown> | undefined),
    });
  }
  return found;
}

describe('docs/deploy.md resources table', () => {
  const documented = documentedResources(readFileSync(join(repoRoot, 'docs', 'deploy.md'), 'utf8'));

  it('lists every Deployment, Job and CronJob of k8s/base with the requests and limits it really has', () => {
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(manifestResources()));
  });

  it('would notice a limit that changed in the manifests only', () => {
    const changed = new Map(documented);
    changed.set('metering', { ...changed.get('metering')!, limits: '1 / 512Mi' });
    expect(Object.fromEntries(changed)).not.toEqual(Object.fromEntries(manifestResources()));
  });
});
