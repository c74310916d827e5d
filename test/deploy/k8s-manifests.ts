// Loads the YAML under k8s/, validates each object against the Kubernetes OpenAPI schemas
// (kubernetes-models), and checks the operational properties an operator relies on.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Model, ModelData } from '@kubernetes-models/base';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import {
  HorizontalPodAutoscaler,
  type IHorizontalPodAutoscaler,
} from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import {
  PodDisruptionBudget,
  type IPodDisruptionBudget,
} from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Job, type IJob } from 'kubernetes-models/batch/v1/Job';
import { CronJob, type ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import {
  podMonitorProblems,
  prometheusRuleProblems,
  type PodMonitorSpec,
  type PrometheusRuleSpec,
} from './monitoring';

export const repoRoot = join(__dirname, '..', '..');
export const k8sRoot = join(repoRoot, 'k8s');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface LoadedDocument {
  /** path relative to the repository root, with the document's index in multi-document files */
  source: string;
  content: K8sObject;
}

type ModelClass = new (data: ModelData<unknown>) => Model<unknown>;

/** Every kind the manifests may use, keyed by `apiVersion/kind`. A new kind must be added here to pass. */
const models: Record<string, ModelClass> = Object.fromEntries(
  [
    ConfigMap,
    Namespace,
    Secret,
    Service,
    ServiceAccount,
    Deployment,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    Job,
    CronJob,
    ClusterRoleBinding,
  ].map((model) => [`${model.apiVersion}/${model.kind}`, model as unknown as ModelClass]),
);

/**
 * Custom resources kubernetes-models has no class for (the Prometheus Operator's, used by k8s/monitoring):
 * each returns the problems of the object's spec; metadata must name the object.
 */
const customResources: Record<string, (content: K8sObject) => string[]> = {
  'monitoring.coreos.com/v1/PrometheusRule': (content) =>
    prometheusRuleProblems(content.spec as PrometheusRuleSpec | undefined),
  'monitoring.coreos.com/v1/PodMonitor': (content) =>
    podMonitorProblems(content.spec as PodMonitorSpec | undefined),
};

export function isKustomization(content: K8sObject): boolean {
  return content.kind === 'Kustomization' || content.kind === 'Component';
}

export function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return yamlFilesUnder(path);
    return /\.ya?ml$/.test(entry) ? [path] : [];
  });
}

/** Parses YAML text into documents, throwing on any syntax error (a silently dropped document is a bug). */
export function parseDocuments(text: string, source: string): LoadedDocument[] {
  return parseAllDocuments(text)
    .map((doc, index) => {
      if (doc.errors.length > 0)
        throw new Error(`${source}#${index}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return { source: `${source}#${index}`, content: doc.toJS() as K8sObject };
    })
    .filter((doc) => doc.content !== null && doc.content !== undefined);
}

export function loadDocuments(dir: string = k8sRoot): LoadedDocument[] {
  return yamlFilesUnder(dir).flatMap((path) =>
    parseDocuments(readFileSync(path, 'utf8'), relative(repoRoot, path)),
  );
}

/**
 * Validates one object against its Kubernetes schema (or a custom resource's checks above); throws an error
 * naming the bad field.
 */
export function validateAgainstSchema(content: K8sObject): void {
  const custom = customResources[`${content.apiVersion}/${content.kind}`];
  if (custom) {
    const problems = [
      ...(typeof content.metadata?.name === 'string' && content.metadata.name ? [] : ['no metadata.name']),
      ...custom(content),
    ];
    if (problems.length > 0) throw new Error(`${content.kind}: ${problems.join('; ')}`);
    return;
  }
  const model = models[`${content.apiVersion}/${content.kind}`];
  if (!model)
    throw new Error(`no schema for ${content.apiVersion} ${content.kind}: add its kubernetes-models class`);
  new model(content as ModelData<unknown>).validate();
}

// ---- operational checks: each returns the problems found, empty when the object is fine --------

export function podTemplateOf(content: K8sObject): IPodTemplateSpec | undefined {
  switch (content.kind) {
    case 'Deployment':
      return (content as unknown as IDeployment).spec?.template;
    case 'Job':
      return (content as unknown as IJob).spec?.template;
    case 'CronJob':
      return (content as unknown as ICronJob).spec?.jobTemplate.spec?.template;
    default:
      return undefined;
  }
}

/** The "restricted" Pod Security Standard, which the example namespace enforces. */
export function restrictedPodProblems(name: string, pod: IPodSpec): string[] {
  const problems: string[] = [];
  const podContext = pod.securityContext ?? {};
  for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
    const where = `${name}/${container.name}`;
    const context = container.securityContext ?? {};
    if (!(context.runAsNonRoot ?? podContext.runAsNonRoot))
      problems.push(`${where}: runAsNonRoot is not set`);
    const uid = context.runAsUser ?? podContext.runAsUser;
    if (uid === 0) problems.push(`${where}: runs as uid 0`);
    if (context.allowPrivilegeEscalation !== false)
      problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (!context.capabilities?.drop?.includes('ALL')) problems.push(`${where}: capabilities are not dropped`);
    const seccomp = context.seccompProfile?.type ?? podContext.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
      problems.push(`${where}: no seccomp profile`);
    if (!container.resources?.limits?.memory || !container.resources?.limits?.cpu)
      problems.push(`${where}: no cpu/memory limits`);
    if (!container.resources?.requests?.memory || !container.resources?.requests?.cpu)
      problems.push(`${where}: no cpu/memory requests`);
  }
  return problems;
}

function httpProbePath(probe: { httpGet?: { path?: string } } | undefined): string | undefined {
  return probe?.httpGet?.path;
}

/** What every service Deployment must have to roll out and shut down safely. */
export function deploymentProblems(deployment: IDeployment): string[] {
  const name = deployment.metadata?.name ?? '(unnamed)';
  const pod = deployment.spec?.template.spec;
  if (!pod) return [`${name}: no pod template`];
  const problems = restrictedPodProblems(name, pod);
  if ((pod.terminationGracePeriodSeconds ?? 30) < 30)
    problems.push(`${name}: terminationGracePeriodSeconds below 30`);
  for (const container of pod.containers) {
    const where = `${name}/${container.name}`;
    if (httpProbePath(container.readinessProbe) !== '/health/ready')
      problems.push(`${where}: readiness probe is not GET /health/ready`);
    if (httpProbePath(container.livenessProbe) !== '/health/live')
      problems.push(`${where}: liveness probe is not GET /health/live`);
    if (!container.lifecycle?.preStop) problems.push(`${where}: no preStop hook`);
    const databaseUrl = container.env?.find((variable) => variable.name === 'DATABASE_URL');
    if (!databaseUrl?.valueFrom?.secretKeyRef)
      problems.push(`${where}: DATABASE_URL is not read from a Secret`);
    if (!container.envFrom?.some((source) => source.configMapRef?.name))
      problems.push(`${where}: no ConfigMap in envFrom`);
  }
  return problems;
}

export function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

export function byKind<T>(documents: LoadedDocument[], kind: string): T[] {
  return documents.filter((doc) => doc.content.kind === kind).map((doc) => doc.content as unknown as T);
}

export type { IDeployment, IService, IHorizontalPodAutoscaler, IPodDisruptionBudget, IJob, ICronJob };
