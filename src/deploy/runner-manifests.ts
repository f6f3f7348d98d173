// Runners as their own deployments: for each model, a Deployment of `tiffin serve /bundle --role runner --model m`
// (the same image, pod hardening and drain as the API's), a headless Service (so the API's gRPC client resolves and
// balances over every runner pod, not one connection through a ClusterIP) and an HPA on CPU and on the runner's
// queue depth; the API Deployment becomes `--role api` with TIFFIN_RUNNERS naming each runner's DNS name.
import type { K8sObject } from './k8s-manifests.ts';

export const RUNNER_GRPC_PORT = 8001;
/** The Pods metric a runner's HPA scales on: requests waiting in its batchers' queues (tiffin_inference_queue_depth). */
export const QUEUE_DEPTH_METRIC = 'tiffin_inference_queue_depth';

type Obj = Record<string, any>;

/** `<api>-runner-<model>`, kept within the 63 characters a DNS label allows. */
export function runnerName(api: string, model: string): string {
  const m = model.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `${api.slice(0, Math.max(1, 62 - 8 - m.length))}-runner-${m}`.slice(0, 63).replace(/-+$/, '');
}

/** What the API's TIFFIN_RUNNERS says: each model at its runner Service's DNS name (same namespace). */
export function runnersEnv(api: string, models: readonly string[]): string {
  return models.map((m) => `${m}=dns:///${runnerName(api, m)}:${RUNNER_GRPC_PORT}`).join(',');
}

export interface RunnerSettings {
  replicas?: number;
  maxReplicas?: number;
  /** Queued requests per runner pod the HPA aims at (default 4). */
  queueTarget?: number;
}

/**
 * Turns the API's Deployment (as kubernetesManifests made it) into `--role api` and returns each runner's
 * Deployment, Service and HPA, derived from it so they share image, security context, probes and drain.
 */
export function runnerObjects(apiDeployment: K8sObject, models: readonly string[], settings: RunnerSettings = {}): K8sObject[] {
  const api = apiDeployment.metadata.name;
  const apiPod = (apiDeployment as Obj).spec.template.spec;
  const apiContainer = apiPod.containers[0];
  apiContainer.args = ['serve', '/bundle', '--role', 'api'];
  apiContainer.env.push(
    { name: 'TIFFIN_RUNNERS', value: runnersEnv(api, models) },
    // The runners' inference token, when they protect that scope (the same Secret key the runners read).
    { name: 'TIFFIN_RUNNER_TOKEN', valueFrom: { secretKeyRef: { name: `${api}-tokens`, key: 'inference-token', optional: true } } },
  );
  const out: K8sObject[] = [];
  for (const model of models) {
    const name = runnerName(api, model);
    const deployment = structuredClone(apiDeployment) as Obj;
    const selector = { 'app.kubernetes.io/name': api, 'app.kubernetes.io/instance': name };
    const labels = { ...deployment.metadata.labels, ...selector, 'app.kubernetes.io/component': 'runner', 'tiffin.dev/model': model.slice(0, 63) };
    const metadata = { ...deployment.metadata, name, labels };
    deployment.metadata = metadata;
    deployment.spec.replicas = settings.replicas ?? 1;
    deployment.spec.selector = { matchLabels: selector };
    deployment.spec.template.metadata.labels = { ...labels };
    const container = deployment.spec.template.spec.containers[0];
    container.name = 'runner';
    container.args = ['serve', '/bundle', '--role', 'runner', '--model', model];
    container.env = container.env.filter((e: { name: string }) => e.name !== 'TIFFIN_RUNNERS' && e.name !== 'TIFFIN_RUNNER_TOKEN');
    out.push(
      deployment as K8sObject,
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { ...metadata, labels: { ...labels } },
        spec: {
          // Headless: DNS answers every ready runner pod, and the API's gRPC client balances over them (round_robin).
          clusterIP: 'None',
          selector,
          ports: [
            { name: 'grpc', port: RUNNER_GRPC_PORT, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
            { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
          ],
        },
      },
      {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { ...metadata, labels: { ...labels } },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
          minReplicas: settings.replicas ?? 1,
          maxReplicas: Math.max(settings.maxReplicas ?? 10, settings.replicas ?? 1),
          metrics: [
            { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
            // Through the Prometheus adapter, as the API's in-flight metric: work waiting in this runner's batchers.
            { type: 'Pods', pods: { metric: { name: QUEUE_DEPTH_METRIC }, target: { type: 'AverageValue', averageValue: String(settings.queueTarget ?? 4) } } },
          ],
          behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
        },
      },
    );
  }
  return out;
}
