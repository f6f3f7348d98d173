// Offline batch on Kubernetes: an Indexed Job (completionMode: Indexed) of `shards` pods, each running
// `tiffin run /bundle --shard $(JOB_COMPLETION_INDEX)/n` on the bundle's image: every n-th row of the input, written
// to its own output part with its own checkpoint beside it, so a retried pod (backoffLimitPerIndex) resumes its shard
// where it stopped. Input and output live on volumes: `pvc://<claim>/<path>` mounts the claim; an absolute path is
// used as it is (a volume patched in with kustomize, or a file in the image).
import { posix } from 'node:path';
import { TiffinError } from '../errors/index.ts';
import type { K8sObject } from './k8s-manifests.ts';

type Obj = Record<string, any>;

export interface JobSettings {
  /** The API each row goes to. */
  api: string;
  input: string;
  /** A folder (parts are part-<i>-of-<n>.jsonl in it) or a file name whose stem the parts take (scores.csv -> scores.part-<i>-of-<n>.csv). */
  output: string;
  shards: number;
  /** Pods at once (default: every shard). */
  parallelism?: number;
  /** Retries of one shard before it counts as failed (default 3); each retry resumes from the shard's checkpoint. */
  retriesPerShard?: number;
}

/** Where volumes of `pvc://` URIs are mounted in the pod. */
export const DATA_ROOT = '/data';
/** `tiffin run` exit codes (src/cli/run-command.ts): 2, a mistake in the command or input; 4, some rows failed. */
const EXIT_BAD_COMMAND = 2;
const EXIT_ROWS_FAILED = 4;

interface Located {
  path: string;
  claim?: string;
}

function locate(uri: string, flag: string): Located {
  if (/^s3:\/\//i.test(uri)) {
    throw new TiffinError('BAD_REQUEST', `${flag} ${uri}: tiffin run reads and writes files, not S3 objects; copy the data to a volume and pass pvc://<claim>/<path>`);
  }
  const pvc = /^pvc:\/\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/(.+)$/.exec(uri);
  if (pvc) {
    const rest = posix.normalize(pvc[3]!);
    if (rest.startsWith('..')) throw new TiffinError('BAD_REQUEST', `${flag} ${uri}: the path must stay inside the volume`);
    return { claim: pvc[1]!, path: posix.join(DATA_ROOT, pvc[1]!, rest) };
  }
  if (uri.startsWith('/')) return { path: posix.normalize(uri) };
  throw new TiffinError('BAD_REQUEST', `${flag} ${uri}: expected pvc://<claim>/<path> (a PersistentVolumeClaim) or an absolute path in the pod`);
}

/** The output part of the shard the pod runs ($(JOB_COMPLETION_INDEX) is expanded by Kubernetes). */
function partPath(output: string, shards: number): string {
  const ext = /\.(jsonl|csv)$/i.exec(output);
  const part = `part-$(JOB_COMPLETION_INDEX)-of-${shards}`;
  return ext ? `${output.slice(0, -ext[0].length)}.${part}${ext[0]}` : posix.join(output, `${part}.jsonl`);
}

/** The Indexed Job, built from the API Deployment's pod (image, security context, resources, tokens). */
export function batchJob(apiDeployment: K8sObject, s: JobSettings): K8sObject {
  if (!Number.isInteger(s.shards) || s.shards < 1) throw new TiffinError('BAD_REQUEST', `--shards takes a whole number above 0, got ${s.shards}`);
  const input = locate(s.input, '--input');
  const output = locate(s.output, '--output');
  const name = `${apiDeployment.metadata.name.slice(0, 52)}-batch`;
  const pod = structuredClone((apiDeployment as Obj).spec.template) as Obj;
  // An instance of its own: the API's Service and PodDisruptionBudget select instance=<name> and must not pick batch pods.
  const labels = { ...pod.metadata.labels, 'app.kubernetes.io/instance': name, 'app.kubernetes.io/component': 'batch' };
  const server = pod.spec.containers[0];
  const claims = [...new Set([input.claim, output.claim].filter((c): c is string => c !== undefined))];
  const container: Obj = {
    name: 'run',
    image: server.image,
    imagePullPolicy: server.imagePullPolicy,
    args: ['run', '/bundle', '--api', s.api, '--input', input.path, '--output', partPath(output.path, s.shards), '--shard', `$(JOB_COMPLETION_INDEX)/${s.shards}`],
    env: [
      // Set by the Job controller on each pod; declared here so $(JOB_COMPLETION_INDEX) expands in args.
      { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
    ],
    resources: server.resources,
    securityContext: server.securityContext,
    volumeMounts: [...server.volumeMounts, ...claims.map((claim) => ({ name: `data-${claim}`.slice(0, 63), mountPath: posix.join(DATA_ROOT, claim) }))],
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { ...apiDeployment.metadata, name, labels },
    spec: {
      completionMode: 'Indexed',
      completions: s.shards,
      parallelism: Math.min(s.parallelism ?? s.shards, s.shards),
      backoffLimitPerIndex: s.retriesPerShard ?? 3,
      podFailurePolicy: {
        rules: [
          // A mistake in the command or the input: no retry will fix it.
          { action: 'FailJob', onExitCodes: { containerName: 'run', operator: 'In', values: [EXIT_BAD_COMMAND] } },
          // The shard ran to the end but some rows failed (they are in its errors file): running it again would not help.
          { action: 'FailIndex', onExitCodes: { containerName: 'run', operator: 'In', values: [EXIT_ROWS_FAILED] } },
          // A node drained or the pod evicted: retry without counting it against the shard.
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
        ],
      },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          securityContext: pod.spec.securityContext,
          automountServiceAccountToken: false,
          containers: [container],
          volumes: [...pod.spec.volumes, ...claims.map((claim) => ({ name: `data-${claim}`.slice(0, 63), persistentVolumeClaim: { claimName: claim } }))],
        },
      },
    },
  };
}
