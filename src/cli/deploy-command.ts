// `tiffin deploy k8s <bundle>`: writes the Kubernetes manifests for a built bundle's image.
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { BundleStore } from '../bundle/index.ts';
import { kubernetesManifests, writeManifests } from '../deploy/index.ts';
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
    .option('--json', 'print the objects as JSON')
    .action(
      action(async (tag: string, o: K8sFlags) => {
        const { manifest } = await bundles().get(tag);
        const objects = kubernetesManifests(
          { name: manifest.name, version: manifest.version, labels: manifest.labels, servesModels: manifest.models.length > 0 },
          {
            ...(o.image ? { image: o.image } : {}),
            ...(o.namespace ? { namespace: o.namespace } : {}),
            ...(o.replicas ? { replicas: count(o.replicas, '--replicas') } : {}),
            ...(o.maxReplicas ? { maxReplicas: count(o.maxReplicas, '--max-replicas') } : {}),
            kserve: Boolean(o.kserve),
            serviceMonitor: Boolean(o.serviceMonitor),
          },
        );
        const out = resolve(o.out ?? 'k8s');
        const files = await writeManifests(objects, out, o.namespace);
        if (o.json) return printJson(objects);
        process.stderr.write(`wrote ${files.join(', ')}\n`);
        process.stdout.write(`${out}\napply with: kubectl apply -k ${out}   (first: kubectl create secret generic ${objects[0]!.metadata.name}-tokens --from-literal=management-token=<token>)\n`);
      }),
    );
  return cmd;
}
