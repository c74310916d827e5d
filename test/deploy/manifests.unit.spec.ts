import { existsSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { authEnvSchema, serviceEnvSchema } from '@fleetledger/platform/config';
import { roleUrlVariable } from '@fleetledger/platform/database-roles';
import {
  byKind,
  deploymentProblems,
  isKustomization,
  loadDocuments,
  parseDocuments,
  podTemplateOf,
  repoRoot,
  restrictedPodProblems,
  selects,
  validateAgainstSchema,
  type ICronJob,
  type IDeployment,
  type IHorizontalPodAutoscaler,
  type IJob,
  type IPodDisruptionBudget,
  type IService,
  type K8sObject,
  type LoadedDocument,
} from './k8s-manifests';

const services = ['inventory', 'allocation', 'metering', 'billing'];
const documents = loadDocuments();
const kustomizations = documents.filter((doc) => isKustomization(doc.content));
const objects = documents.filter((doc) => !isKustomization(doc.content));
const baseObjects = objects.filter((doc) => doc.source.startsWith('k8s/base/'));
const deployments = byKind<IDeployment>(baseObjects, 'Deployment');

const label = (doc: LoadedDocument) =>
  `${doc.source} ${doc.content.kind} ${doc.content.metadata?.name ?? ''}`;

function validDeployment(): IDeployment {
  return structuredClone(deployments.find((d) => d.metadata?.name === 'billing')!);
}

describe('k8s manifests: Kubernetes schemas', () => {
  it('finds the base, the monitoring, the example overlay and every service', () => {
    expect(kustomizations.map((doc) => doc.source).sort()).toEqual([
      'k8s/base/kustomization.yaml#0',
      'k8s/monitoring/kustomization.yaml#0',
      'k8s/overlays/example/kustomization.yaml#0',
    ]);
    expect(deployments.map((d) => d.metadata?.name).sort()).toEqual([...services].sort());
  });

  it.each(objects.map((doc) => [label(doc), doc] as const))(
    '%s is valid against its schema',
    (_name, doc) => {
      expect(() => validateAgainstSchema(doc.content)).not.toThrow();
    },
  );

  it('rejects a Deployment whose replicas is a string', () => {
    const broken = {
      ...validDeployment(),
      spec: { ...validDeployment().spec!, replicas: 'two' },
    } as unknown as K8sObject;
    expect(() => validateAgainstSchema(broken)).toThrow(/replicas must be integer/);
  });

  it('rejects a containerPort given as a string, and a kind it has no schema for', () => {
    const deployment = validDeployment();
    (deployment.spec!.template.spec!.containers[0] as unknown as { ports: unknown }).ports = [
      { containerPort: '3000' },
    ];
    expect(() => validateAgainstSchema(deployment as unknown as K8sObject)).toThrow(/containerPort/);
    expect(() => validateAgainstSchema({ apiVersion: 'apps/v1beta1', kind: 'Deployment' })).toThrow(
      /no schema/,
    );
  });

  it('fails loudly on a YAML syntax error instead of dropping the document', () => {
    expect(() => parseDocuments('kind: Service\n---\nmetadata: { name: [unclosed\n', 'broken.yaml')).toThrow(
      /broken.yaml#1/,
    );
  });
});

describe('k8s manifests: kustomizations', () => {
  it.each(kustomizations.map((doc) => [doc.source, doc] as const))(
    '%s references files that exist',
    (source, doc) => {
      const dir = dirname(join(repoRoot, source.replace(/#\d+$/, '')));
      const content = doc.content as {
        resources?: string[];
        patches?: { path?: string }[];
        components?: string[];
      };
      const referenced = [
        ...(content.resources ?? []),
        ...(content.components ?? []),
        ...(content.patches ?? []).flatMap((p) => (p.path ? [p.path] : [])),
      ];
      expect(referenced.length).toBeGreaterThan(0);
      const missing = referenced
        .map((ref) => join(dir, ref))
        .filter(
          (path) =>
            !existsSync(path) ||
            (statSync(path).isDirectory() && !existsSync(join(path, 'kustomization.yaml'))),
        );
      expect(missing).toEqual([]);
    },
  );

  it('the base lists every object file under k8s/base', () => {
    const base = kustomizations.find((doc) => doc.source.startsWith('k8s/base/'))!.content as unknown as {
      resources: string[];
    };
    const files = new Set(baseObjects.map((doc) => doc.source.replace(/^k8s\/base\/|#\d+$/g, '')));
    expect([...base.resources].sort()).toEqual([...files].sort());
  });
});

describe('k8s manifests: operational properties', () => {
  it.each(services)(
    '%s has a Deployment with probes, limits, non-root, graceful shutdown and its Secret',
    (name) => {
      const deployment = deployments.find((d) => d.metadata?.name === name)!;
      expect(deploymentProblems(deployment)).toEqual([]);
      const container = deployment.spec!.template.spec!.containers[0];
      expect(container.env).toContainEqual({ name: 'SERVICE', value: name });
      expect(container.env?.find((v) => v.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef?.name).toBe(
        `fleetledger-${name}-db`,
      );
    },
  );

  it.each(services)('%s connects to Kafka as its own SCRAM user, from its own Secret', (name) => {
    const env =
      deployments.find((d) => d.metadata?.name === name)!.spec!.template.spec!.containers[0].env ?? [];
    expect(env).toContainEqual({ name: 'KAFKA_SASL_MECHANISM', value: 'scram-sha-512' });
    for (const [variable, key] of [
      ['KAFKA_SASL_USERNAME', 'username'],
      ['KAFKA_SASL_PASSWORD', 'password'],
    ])
      expect(env.find((v) => v.name === variable)?.valueFrom?.secretKeyRef).toEqual({
        name: `fleetledger-${name}-kafka`,
        key,
      });
  });

  it('detects a Deployment without probes, limits or non-root settings', () => {
    const deployment = validDeployment();
    const pod = deployment.spec!.template.spec!;
    delete pod.containers[0].readinessProbe;
    delete pod.containers[0].resources!.limits;
    delete pod.securityContext!.runAsNonRoot;
    delete pod.containers[0].lifecycle;
    expect(deploymentProblems(deployment)).toEqual(
      expect.arrayContaining([
        'billing/billing: readiness probe is not GET /health/ready',
        'billing/billing: no cpu/memory limits',
        'billing/billing: runAsNonRoot is not set',
        'billing/billing: no preStop hook',
      ]),
    );
  });

  it.each(baseObjects.filter((doc) => podTemplateOf(doc.content)).map((doc) => [label(doc), doc] as const))(
    '%s meets the restricted Pod Security Standard',
    (name, doc) => {
      expect(restrictedPodProblems(name, podTemplateOf(doc.content)!.spec!)).toEqual([]);
    },
  );

  it('every Service selects the pods of exactly one Deployment and no Job pods, on a declared port', () => {
    const servicesK8s = byKind<IService>(baseObjects, 'Service');
    expect(servicesK8s.map((s) => s.metadata?.name).sort()).toEqual([...services].sort());
    const jobPods = baseObjects
      .filter((doc) => doc.content.kind !== 'Deployment')
      .flatMap((doc) => podTemplateOf(doc.content) ?? []);
    for (const service of servicesK8s) {
      const selector = service.spec?.selector;
      const targets = deployments.filter((d) => selects(selector, d.spec?.template.metadata?.labels));
      expect(targets.map((d) => d.metadata?.name)).toEqual([service.metadata?.name]);
      expect(jobPods.filter((pod) => selects(selector, pod.metadata?.labels))).toEqual([]);
      const portNames = targets[0]
        .spec!.template.spec!.containers.flatMap((c) => c.ports ?? [])
        .map((p) => p.name);
      for (const port of service.spec?.ports ?? []) expect(portNames).toContain(port.targetPort);
    }
  });

  it('every Deployment selector matches its own pod template', () => {
    for (const d of deployments)
      expect(selects(d.spec?.selector.matchLabels, d.spec?.template.metadata?.labels)).toBe(true);
  });

  it('each HorizontalPodAutoscaler targets an existing Deployment, and each Deployment has one', () => {
    const hpas = byKind<IHorizontalPodAutoscaler>(baseObjects, 'HorizontalPodAutoscaler');
    for (const { spec } of hpas) {
      expect(spec!.scaleTargetRef).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment' });
      expect(deployments.map((d) => d.metadata?.name)).toContain(spec!.scaleTargetRef.name);
      expect(spec!.minReplicas ?? 1).toBeLessThanOrEqual(spec!.maxReplicas);
    }
    expect(hpas.map((h) => h.spec!.scaleTargetRef.name).sort()).toEqual([...services].sort());
  });

  it('each PodDisruptionBudget selects the pods of one Deployment, and leaves room for a voluntary eviction', () => {
    const pdbs = byKind<IPodDisruptionBudget>(baseObjects, 'PodDisruptionBudget');
    expect(pdbs).toHaveLength(services.length);
    for (const pdb of pdbs) {
      const target = deployments.filter((d) =>
        selects(pdb.spec?.selector?.matchLabels, d.spec?.template.metadata?.labels),
      );
      expect(target.map((d) => d.metadata?.name)).toEqual([pdb.metadata?.name]);
      expect(Number(pdb.spec?.minAvailable)).toBeLessThan(target[0].spec?.replicas ?? 1);
    }
  });

  it.each(services)('%s has a migrations Job running --migrate-only with its own Secret', (name) => {
    const job = byKind<IJob>(baseObjects, 'Job').find((j) => j.metadata?.name === `${name}-migrate`);
    const container = job?.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual(['--migrate-only']);
    expect(container?.env).toContainEqual({ name: 'SERVICE', value: name });
    expect(container?.env?.find((v) => v.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef?.name).toBe(
      `fleetledger-${name}-db`,
    );
    expect(job?.spec?.template.spec?.restartPolicy).toBe('Never');
  });

  it("provisions the database roles in one Job: the admin URL, and each role's password from its own Secret", () => {
    const job = byKind<IJob>(baseObjects, 'Job').find((j) => j.metadata?.name === 'db-provision');
    const container = job?.spec?.template.spec?.containers[0];
    expect(container?.args).toEqual(['node', 'dist/scripts/db-provision.js']);
    const secretOf = (name: string) => container?.env?.find((v) => v.name === name)?.valueFrom?.secretKeyRef;
    expect(secretOf('DATABASE_ADMIN_URL')).toEqual({
      name: 'fleetledger-db-admin',
      key: 'DATABASE_ADMIN_URL',
    });
    for (const name of [...services, 'audit'])
      expect(secretOf(roleUrlVariable(name))).toEqual({
        name: `fleetledger-${name}-db`,
        key: 'DATABASE_URL',
      });
    // Only this Job sees the administrator's URL: services, migrations and the audit run as their roles.
    const adminReaders = baseObjects
      .filter((doc) => JSON.stringify(doc.content).includes('fleetledger-db-admin'))
      .map((doc) => doc.content.metadata?.name);
    expect(adminReaders).toEqual(['db-provision']);
  });

  it('the audit replay is a suspended CronJob (a template run on demand) calling the audit CLI', () => {
    const [audit] = byKind<ICronJob>(baseObjects, 'CronJob');
    expect(audit.metadata?.name).toBe('audit-replay');
    expect(audit.spec?.suspend).toBe(true);
    expect(audit.spec?.concurrencyPolicy).toBe('Forbid');
    expect(audit.spec?.jobTemplate.spec?.template.spec?.containers[0].args).toEqual([
      'node',
      'dist/apps/audit/src/main.js',
      'replay',
    ]);
  });

  it('the ConfigMap plus a DATABASE_URL is a valid service environment (libs/platform schema)', () => {
    const [config] = byKind<{ metadata: { name: string }; data: Record<string, string> }>(
      baseObjects,
      'ConfigMap',
    );
    for (const d of deployments) {
      expect(d.spec!.template.spec!.containers[0].envFrom).toContainEqual({
        configMapRef: { name: config.metadata.name },
      });
    }
    const env = serviceEnvSchema.parse({
      ...config.data,
      DATABASE_URL: 'postgres://billing@db:5432/fleetledger',
    });
    expect(env).toMatchObject({
      KAFKA_TOPIC_PREFIX: '',
      MIGRATIONS_RUN: false,
      PORT: 3000,
      NODE_ENV: 'production',
    });
  });

  it('every Deployment authenticates callers: the cluster issuer from the ConfigMap, its own audience, the CA to fetch the JWKS', () => {
    const [config] = byKind<{ metadata: { name: string }; data: Record<string, string> }>(
      baseObjects,
      'ConfigMap',
    );
    for (const d of deployments) {
      const name = d.metadata!.name!;
      const container = d.spec!.template.spec!.containers[0];
      const ownEnv = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
      const auth = authEnvSchema.parse({ ...config.data, ...ownEnv });
      expect(auth).toMatchObject({
        AUTH_AUDIENCE: `fleetledger-${name}`,
        AUTH_JWKS_URL: expect.stringMatching(/^https:/),
      });
      const caMount = container.volumeMounts?.find((m) => m.name === 'kube-ca');
      expect(`${caMount?.mountPath}/ca.crt`).toBe(config.data.NODE_EXTRA_CA_CERTS);
      // No default API token in the pod: only the CA and an audience-bound caller token are projected.
      expect(d.spec!.template.spec!.automountServiceAccountToken).toBe(false);
      const tokens = (d.spec!.template.spec!.volumes ?? []).flatMap((v) =>
        (v.projected?.sources ?? []).flatMap((source) =>
          source.serviceAccountToken ? [source.serviceAccountToken] : [],
        ),
      );
      expect(tokens).toEqual([
        { audience: 'fleetledger-allocation', expirationSeconds: 3600, path: 'allocation' },
      ]);
    }
  });
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const withKubectl = kubectl.status === 0 ? describe : describe.skip;

withKubectl('k8s overlay rendered by kubectl kustomize (skipped without kubectl)', () => {
  const render = (dir: string) => {
    const result = spawnSync('kubectl', ['kustomize', join(repoRoot, dir)], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(result.stderr);
    return parseDocuments(result.stdout, dir);
  };
  const rendered = render('k8s/overlays/example');

  it('renders only schema-valid objects', () => {
    expect(rendered.length).toBeGreaterThan(20);
    for (const doc of rendered) expect(() => validateAgainstSchema(doc.content)).not.toThrow();
  });

  it('puts everything in the namespace, pins the image and scales billing', () => {
    const clusterScoped = ['Namespace', 'ClusterRoleBinding'];
    for (const doc of rendered.filter((d) => !clusterScoped.includes(String(d.content.kind)))) {
      expect((doc.content.metadata as { namespace?: string }).namespace).toBe('fleetledger');
    }
    for (const doc of rendered) {
      for (const container of podTemplateOf(doc.content)?.spec?.containers ?? []) {
        expect(container.image).toBe('registry.example.com/fleetledger:0.1.0');
      }
    }
    const billing = byKind<IDeployment>(rendered, 'Deployment').find((d) => d.metadata?.name === 'billing');
    expect(billing?.spec?.replicas).toBe(3);
    const hpa = byKind<IHorizontalPodAutoscaler>(rendered, 'HorizontalPodAutoscaler').find(
      (h) => h.metadata?.name === 'billing',
    );
    expect(hpa?.spec?.minReplicas).toBe(3);
  });

  it('the base renders too', () => {
    expect(render('k8s/base').length).toBe(baseObjects.length);
  });
});
