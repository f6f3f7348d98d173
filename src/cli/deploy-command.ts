// `tiffin deploy k8s <bundle>`: writes the Kubernetes manifests for a built bundle's image: the server, its models
// as runner Deployments (`--runners`), or an Indexed Job for offline batch (`--job`).
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { BundleStore } from '../bundle/index.ts';
import { kubernetesManifests, writeManifests, type JobSettings } from '../deploy/index.ts';
import { TiffinError } from '../errors/index.ts';
import { action, printJson } from './output.ts';

function count(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new TiffinError('BAD_REQUEST', `${flag} takes a whole number above 0, got ${JSON.stringify(value)}`);
  return n;
}

interface K8sFlags {
  out?: string;
  image?: string;
  namespace?: string;
  replicas?: string;
  maxReplicas?: string;
  kserve?: boolean;
  serviceMonitor?: boolean;
  json?: boolean;
  runners?: boolean | string;
  job?: boolean;
  api?: string;
  input?: string;
  output?: string;
  shards?: string;
  parallelism?: string;
}

/** `--runners` (every model of the bundle) or `--runners iris,ocr` (those). */
function runnerModels(flag: boolean | string | undefined, models: string[], tag: string): string[] | undefined {
  if (flag === undefined || flag === false) return undefined;
  if (models.length === 0) throw new TiffinError('BAD_REQUEST', `--runners: the bundle ${tag} has no models to run in runners`);
  if (flag === true) return models;
  const named = flag.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = named.filter((m) => !models.includes(m));
  if (unknown.length) throw new TiffinError('BAD_REQUEST', `--runners ${flag}: ${unknown.join(', ')} not among the bundle's models (${models.join(', ')})`);
  return named;
}

function jobSettings(o: K8sFlags, apis: string[], tag: string): JobSettings {
  const missing = (['input', 'output', 'shards'] as const).filter((k) => o[k] === undefined);
  if (missing.length) throw new TiffinError('BAD_REQUEST', `--job needs ${missing.map((k) => `--${k}`).join(', ')} (e.g. --input pvc://data/rows.jsonl --output pvc://data/scores/ --shards 8)`);
  const api = o.api ?? (apis.length === 1 ? apis[0] : undefined);
  if (!api) throw new TiffinError('BAD_REQUEST', `--job: name the API each row goes to with --api (the bundle ${tag} has ${apis.join(', ') || 'none'})`);
  if (apis.length > 0 && !apis.includes(api)) throw new TiffinError('BAD_REQUEST', `--api ${api}: the bundle ${tag} has no such API (it has ${apis.join(', ')})`);
  return { api, input: o.input!, output: o.output!, shards: count(o.shards!, '--shards'), ...(o.parallelism ? { parallelism: count(o.parallelism, '--parallelism') } : {}) };
}

export function deployCommand(bundles: () => BundleStore): Command {
  const cmd = new Command('deploy').description('write deployment manifests for a built bundle');
  cmd
    .command('k8s')
    .description('write Kubernetes manifests (Deployment, Service, HPA, PDB; ServiceMonitor and KServe on request) and a kustomization.yaml')
    .argument('<bundle>', 'name (newest version) or name:version')
    .option('-o, --out <dir>', 'folder to write (default ./k8s)')
    .option('--image <ref>', 'the image, as pushed to your registry (default <name>:<version>, as tiffin containerize tags it)')
    .option('--namespace <ns>', 'namespace of every object (in kustomization.yaml too)')
    .option('--replicas <n>', 'replicas, and the HPA minimum (default 2)')
    .option('--max-replicas <n>', 'the HPA maximum (default 10)')
    .option('--kserve', 'also a KServe ServingRuntime and an InferenceService that uses it')
    .option('--service-monitor', 'also a Prometheus Operator ServiceMonitor')
    .option('--runners [models]', 'run the models (all, or these, comma-separated) as their own Deployments, Services and HPAs; the API serves --role api')
    .option('--job', 'instead: an Indexed Job that runs `tiffin run` over --input in --shards shards')
    .option('--api <name>', 'with --job: the API each row goes to (default the only one)')
    .option('--input <uri>', 'with --job: rows, as pvc://<claim>/<path> or an absolute path in the pod')
    .option('--output <uri>', 'with --job: a folder (or file name) for the parts, one per shard: pvc://<claim>/<path> or an absolute path')
    .option('--shards <n>', 'with --job: how many shards (pods) the input is split into')
    .option('--parallelism <n>', 'with --job: shards running at once (default all)')
    .option('--json', 'print the objects as JSON')
    .action(
      action(async (tag: string, o: K8sFlags) => {
        const { manifest } = await bundles().get(tag);
        const bundleTag = `${manifest.name}:${manifest.version}`;
        if (o.job && o.runners) throw new TiffinError('BAD_REQUEST', '--job and --runners do not go together: a batch job runs its models in its own pods');
        const runners = runnerModels(o.runners, [...new Set(manifest.models.map((m) => m.name))], bundleTag);
        const job = o.job ? jobSettings(o, manifest.service.apis, bundleTag) : undefined;
        const objects = kubernetesManifests(
          { name: manifest.name, version: manifest.version, labels: manifest.labels, servesModels: manifest.models.length > 0 },
          {
            ...(o.image ? { image: o.image } : {}),
            ...(o.namespace ? { namespace: o.namespace } : {}),
            ...(o.replicas ? { replicas: count(o.replicas, '--replicas') } : {}),
            ...(o.maxReplicas ? { maxReplicas: count(o.maxReplicas, '--max-replicas') } : {}),
            kserve: Boolean(o.kserve),
            serviceMonitor: Boolean(o.serviceMonitor),
            ...(runners ? { runners } : {}),
            ...(job ? { job } : {}),
          },
        );
        const out = resolve(o.out ?? 'k8s');
        const files = await writeManifests(objects, out, o.namespace);
        if (o.json) return printJson(objects);
        process.stderr.write(`wrote ${files.join(', ')}\n`);
        const secret = job ? '' : `   (first: kubectl create secret generic ${objects[0]!.metadata.name}-tokens --from-literal=management-token=<token>)`;
        process.stdout.write(`${out}\napply with: kubectl apply -k ${out}${secret}\n`);
      }),
    );
  return cmd;
}
