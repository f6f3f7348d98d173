// The generated manifests, checked against the Kubernetes OpenAPI schemas (kubernetes-models) and the CRD schema
// subsets in test-fixtures.ts, and for the properties the issue asks of them.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { tempDir } from '../testing/temp-dir.ts';
import { kubernetesManifests, PRE_STOP_SECONDS, type K8sObject } from './k8s-manifests.ts';
import { validateObject } from './test-fixtures.ts';
import { writeManifests } from './write-manifests.ts';

const BUNDLE = { name: 'iris-service', version: '01m97z40895pt56h8z5vhh75yc', labels: { team: 'ml' }, servesModels: true };

function find(objects: K8sObject[], kind: string): Record<string, any> {
  const found = objects.find((o) => o.kind === kind);
  assert.ok(found, `a ${kind}`);
  return found as Record<string, any>;
}

test('every object validates against its schema, with KServe and a ServiceMonitor', () => {
  const objects = kubernetesManifests(BUNDLE, { image: 'ghcr.io/acme/iris:1', namespace: 'ml', kserve: true, serviceMonitor: true });
  assert.deepEqual(objects.map((o) => o.kind), ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor', 'ServingRuntime', 'InferenceService']);
  for (const o of objects) validateObject(o);
  // The validators are real: a broken object is refused.
  const broken = structuredClone(find(objects, 'Deployment'));
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
  assert.throws(() => validateObject(broken as K8sObject), /containerPort/);
  const badRuntime = structuredClone(find(objects, 'ServingRuntime'));
  badRuntime.spec.protocolVersions = ['v3'];
  assert.throws(() => validateObject(badRuntime as K8sObject), /protocolVersions/);
});

test('the Deployment: probes, security context, a drain that outlasts the preStop pause, tokens from a Secret, scrape annotations', () => {
  const objects = kubernetesManifests(BUNDLE, { drainSeconds: 40 });
  const deployment = find(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const c = pod.containers[0];
  assert.equal(c.livenessProbe.httpGet.path, '/livez');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.ok(c.startupProbe.failureThreshold * c.startupProbe.periodSeconds >= 300, 'five minutes for slow model loads');
  assert.deepEqual(c.securityContext, { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  assert.deepEqual(c.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
  assert.ok(pod.terminationGracePeriodSeconds > 40 + PRE_STOP_SECONDS);
  assert.ok(c.lifecycle.preStop.exec.command.join(' ').includes(String(PRE_STOP_SECONDS * 1000)));
  assert.equal(c.env.find((e: { name: string }) => e.name === 'TIFFIN_SHUTDOWN_GRACE_MS').value, '40000');
  const token = c.env.find((e: { name: string }) => e.name === 'TIFFIN_MANAGEMENT_TOKEN');
  assert.deepEqual(token.valueFrom.secretKeyRef, { name: 'iris-service-tokens', key: 'management-token', optional: false });
  assert.equal(deployment.spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
  assert.ok(c.resources.requests.cpu && c.resources.limits.memory);
  const hpa = find(objects, 'HorizontalPodAutoscaler');
  assert.deepEqual(hpa.spec.metrics.map((m: { type: string }) => m.type), ['Resource', 'Pods']);
  assert.equal(hpa.spec.metrics[1].pods.metric.name, 'tiffin_http_requests_in_flight');
  const service = find(objects, 'Service');
  assert.deepEqual(service.spec.ports.map((p: { appProtocol: string }) => p.appProtocol), ['http', 'kubernetes.io/h2c']);
});

test('writeManifests: one file per object and a kustomization.yaml listing them', async () => {
  const dir = await tempDir('k8s');
  const files = await writeManifests(kubernetesManifests(BUNDLE, { kserve: true }), dir, 'ml');
  const kustomization = YAML.parse(await readFile(join(dir, 'kustomization.yaml'), 'utf8')) as { namespace: string; resources: string[] };
  assert.equal(kustomization.namespace, 'ml');
  assert.deepEqual(kustomization.resources, files.filter((f) => f !== 'kustomization.yaml'));
  for (const f of kustomization.resources) validateObject(YAML.parse(await readFile(join(dir, f), 'utf8')) as K8sObject);
});
