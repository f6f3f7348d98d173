// `tiffin deploy k8s --runners` and `--job`: the runner Deployments, headless Services and HPAs, the API switched
// to --role api with TIFFIN_RUNNERS at their DNS names, and the Indexed Job, all validated against the Kubernetes
// OpenAPI schemas (kubernetes-models 5.1, which knows batch/v1 backoffLimitPerIndex and podFailurePolicy).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { runnersSectionSchema } from '../remote-runners/config.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { kubernetesManifests, type K8sObject } from './k8s-manifests.ts';
import { validateObject } from './test-fixtures.ts';
import { writeManifests } from './write-manifests.ts';

const BUNDLE = { name: 'iris-service', version: '01m97z40895pt56h8z5vhh75yc', labels: { team: 'ml' }, servesModels: true };
type Obj = Record<string, any>;

const named = (objects: K8sObject[], kind: string, name: string): Obj => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found as Obj;
};
const envOf = (c: Obj, name: string): Obj | undefined => c.env.find((e: { name: string }) => e.name === name);

test('--runners: a Deployment, headless Service and HPA per model, valid; the API calls them by DNS name', () => {
  const objects = kubernetesManifests(BUNDLE, { namespace: 'ml', runners: ['iris', 'ocr_det'], serviceMonitor: true });
  for (const o of objects) validateObject(o);
  const api = named(objects, 'Deployment', 'iris-service');
  const apiContainer = api.spec.template.spec.containers[0];
  assert.deepEqual(apiContainer.args, ['serve', '/bundle', '--role', 'api']);
  const runners = envOf(apiContainer, 'TIFFIN_RUNNERS')!.value as string;
  assert.equal(runners, 'iris=dns:///iris-service-runner-iris:8001,ocr_det=dns:///iris-service-runner-ocr-det:8001');
  // What the API reads back from that variable is a valid runners section.
  assert.deepEqual(Object.keys(runnersSectionSchema.parse(runners)), ['iris', 'ocr_det']);
  assert.deepEqual(envOf(apiContainer, 'TIFFIN_RUNNER_TOKEN')!.valueFrom.secretKeyRef, { name: 'iris-service-tokens', key: 'inference-token', optional: true });

  const apiSelector = api.spec.selector.matchLabels;
  for (const [model, name] of [['iris', 'iris-service-runner-iris'], ['ocr_det', 'iris-service-runner-ocr-det']] as const) {
    const d = named(objects, 'Deployment', name);
    const c = d.spec.template.spec.containers[0];
    assert.deepEqual(c.args, ['serve', '/bundle', '--role', 'runner', '--model', model]);
    assert.equal(envOf(c, 'TIFFIN_RUNNERS'), undefined);
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(d.metadata.namespace, 'ml');
    // The runner's pods are its own: the API's selector does not match them, nor theirs the API's.
    const labels = d.spec.template.metadata.labels;
    assert.ok(Object.entries(d.spec.selector.matchLabels).every(([k, v]) => labels[k] === v));
    assert.ok(!Object.entries(apiSelector).every(([k, v]) => labels[k] === v), 'API selector must not match runner pods');
    const svc = named(objects, 'Service', name);
    assert.equal(svc.spec.clusterIP, 'None');
    assert.deepEqual(svc.spec.selector, d.spec.selector.matchLabels);
    assert.deepEqual(svc.spec.ports.map((p: Obj) => [p.name, p.port, p.appProtocol]), [['grpc', 8001, 'kubernetes.io/h2c'], ['http', 80, 'http']]);
    const hpa = named(objects, 'HorizontalPodAutoscaler', name);
    assert.equal(hpa.spec.scaleTargetRef.name, name);
    assert.equal(hpa.spec.metrics[1].pods.metric.name, 'tiffin_inference_queue_depth');
  }
  // The broken runner is refused by the real schema.
  const broken = structuredClone(named(objects, 'Service', 'iris-service-runner-iris'));
  broken.spec.ports[0].port = 'grpc';
  assert.throws(() => validateObject(broken as K8sObject), /port/);
});

test('--runners manifests write one file per object, kustomization listing all of them, each still valid', async () => {
  const dir = await tempDir('k8s-runners');
  const files = await writeManifests(kubernetesManifests(BUNDLE, { runners: ['iris'] }), dir);
  assert.ok(files.includes('deployment-iris-service-runner-iris.yaml'), files.join(', '));
  const kustomization = YAML.parse(await readFile(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  assert.equal(kustomization.resources.length, 7);
  for (const f of kustomization.resources) validateObject(YAML.parse(await readFile(join(dir, f), 'utf8')) as K8sObject);
});

test('--job: an Indexed Job, valid, each pod one shard of the input with its own output part and checkpoint', () => {
  const [job, ...rest] = kubernetesManifests(BUNDLE, { namespace: 'ml', job: { api: 'classify', input: 'pvc://data/in/rows.jsonl', output: 'pvc://results/scores/', shards: 8, parallelism: 3 } });
  assert.equal(rest.length, 0);
  validateObject(job!);
  const j = job as Obj;
  assert.equal(j.kind, 'Job');
  assert.equal(j.spec.completionMode, 'Indexed');
  assert.equal(j.spec.completions, 8);
  assert.equal(j.spec.parallelism, 3);
  assert.equal(j.spec.backoffLimitPerIndex, 3);
  assert.equal(j.spec.template.spec.restartPolicy, 'Never');
  // The API's Service selects instance=iris-service: batch pods must not join its endpoints.
  assert.equal(j.spec.template.metadata.labels['app.kubernetes.io/instance'], 'iris-service-batch');
  const c = j.spec.template.spec.containers[0];
  assert.deepEqual(c.args, ['run', '/bundle', '--api', 'classify', '--input', '/data/data/in/rows.jsonl', '--output', '/data/results/scores/part-$(JOB_COMPLETION_INDEX)-of-8.jsonl', '--shard', '$(JOB_COMPLETION_INDEX)/8']);
  assert.match(envOf(c, 'JOB_COMPLETION_INDEX')!.valueFrom.fieldRef.fieldPath, /job-completion-index/);
  assert.deepEqual(c.volumeMounts.map((m: Obj) => m.mountPath), ['/tmp', '/data/data', '/data/results']);
  assert.deepEqual(j.spec.template.spec.volumes.slice(1).map((v: Obj) => v.persistentVolumeClaim.claimName), ['data', 'results']);
  assert.deepEqual(j.spec.podFailurePolicy.rules.map((r: Obj) => r.action), ['FailJob', 'FailIndex', 'Ignore']);
  // A file name for the output: the parts take its stem.
  const [csv] = kubernetesManifests(BUNDLE, { job: { api: 'classify', input: '/mnt/rows.csv', output: '/mnt/out/scores.csv', shards: 2 } });
  validateObject(csv!);
  assert.ok((csv as Obj).spec.template.spec.containers[0].args.includes('/mnt/out/scores.part-$(JOB_COMPLETION_INDEX)-of-2.csv'));
  // The schema is real: a bad completionMode is refused.
  const broken = structuredClone(j);
  broken.spec.completions = 'eight';
  assert.throws(() => validateObject(broken as K8sObject), /completions/);
});

test('--job refuses URIs it cannot honour, with the fix in the message', () => {
  assert.throws(() => kubernetesManifests(BUNDLE, { job: { api: 'a', input: 's3://bucket/rows.jsonl', output: '/out', shards: 2 } }), /not S3 objects.*pvc:\/\/<claim>\/<path>/);
  assert.throws(() => kubernetesManifests(BUNDLE, { job: { api: 'a', input: 'rows.jsonl', output: '/out', shards: 2 } }), /expected pvc:\/\/<claim>\/<path>/);
  assert.throws(() => kubernetesManifests(BUNDLE, { job: { api: 'a', input: 'pvc://data/../etc/passwd', output: '/out', shards: 2 } }), /inside the volume/);
  assert.throws(() => kubernetesManifests(BUNDLE, { job: { api: 'a', input: '/in', output: '/out', shards: 0 } }), /--shards/);
});
