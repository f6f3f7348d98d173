// Kubernetes objects for a bundle's image, as plain objects: a Deployment (probes, resources, a locked-down
// security context, a drain that outlasts endpoint removal, tokens from a Secret, Prometheus scrape annotations), a
// Service, an autoscaling/v2 HPA on CPU and on in-flight requests, a PodDisruptionBudget; a ServiceMonitor and
// KServe's ServingRuntime + InferenceService when asked. No operator of Tiffin's own: any cluster accepts these.
import { TiffinError } from '../errors/index.ts';
import { batchJob, type JobSettings } from './job-manifest.ts';
import { runnerObjects, type RunnerSettings } from './runner-manifests.ts';

/** What of a bundle the manifests need. */
export interface DeployedBundle {
  name: string;
  version: string;
  labels: Record<string, string>;
  /** Whether the service serves store models (a model repository), which needs a management token off loopback. */
  servesModels: boolean;
}

export interface K8sOptions {
  /** The image built by `tiffin containerize` (default `<name>:<version>`). */
  image?: string;
  namespace?: string;
  replicas?: number;
  /** Most replicas the HPA may scale to (default 10). */
  maxReplicas?: number;
  /** Resource requests and limits of the server container. */
  resources?: { cpu?: string; memory?: string; cpuLimit?: string; memoryLimit?: string };
  /** Target of in-flight HTTP requests per pod for the HPA (default 16). */
  inFlightTarget?: number;
  /** The server's drain grace (server.shutdownGraceMs), in seconds (default 30). */
  drainSeconds?: number;
  serviceMonitor?: boolean;
  kserve?: boolean;
  /** Models that run as their own Deployments (`--runners`): one Deployment, headless Service and HPA each, and the
   * API Deployment serves `--role api` with TIFFIN_RUNNERS pointing at them (runner-manifests.ts). */
  runners?: readonly string[];
  runnerSettings?: RunnerSettings;
  /** Instead of serving objects, an Indexed Job that runs `tiffin run` over the input in shards (job-manifest.ts). */
  job?: JobSettings;
}

export const HTTP_PORT = 3000;
export const GRPC_PORT = 8001;
/** Seconds the pod keeps serving after it is marked terminating, while endpoints controllers remove it. */
export const PRE_STOP_SECONDS = 5;
export const CONTAINER_UID = 10001;
/** The Pods metric the HPA scales on: Tiffin's gauge of HTTP requests in flight, through the Prometheus adapter. */
export const IN_FLIGHT_METRIC = 'tiffin_http_requests_in_flight';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } } & Record<string, unknown>;

/** A DNS-1123 name from a bundle name (lowercase, digits, '-'; at most 63). */
export function k8sName(name: string): string {
  const out = name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  if (!out) throw new TiffinError('BAD_REQUEST', `cannot make a Kubernetes name from "${name}"`);
  return out;
}

/** A label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric. */
function labelValue(value: string): string {
  return value.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

export function kubernetesManifests(bundle: DeployedBundle, options: K8sOptions = {}): K8sObject[] {
  const name = k8sName(bundle.name);
  const image = options.image ?? `${bundle.name}:${bundle.version}`;
  const selector = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name };
  const labels: Record<string, string> = {
    ...selector,
    'app.kubernetes.io/version': labelValue(bundle.version),
    'app.kubernetes.io/managed-by': 'tiffin',
    ...Object.fromEntries(Object.entries(bundle.labels).map(([k, v]) => [`tiffin.dev/${labelValue(k)}`, labelValue(v)])),
  };
  const metadata = (suffix = '') => ({ name: `${name}${suffix}`, ...(options.namespace ? { namespace: options.namespace } : {}), labels });
  const drain = options.drainSeconds ?? 30;
  const secret = `${name}-tokens`;
  const r = options.resources ?? {};

  const container = {
    name: 'server',
    image,
    imagePullPolicy: 'IfNotPresent',
    ports: [
      { name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' },
      { name: 'grpc', containerPort: GRPC_PORT, protocol: 'TCP' },
    ],
    env: [
      { name: 'PORT', value: String(HTTP_PORT) },
      { name: 'TIFFIN_HOST', value: '0.0.0.0' },
      { name: 'TIFFIN_GRPC_PORT', value: String(GRPC_PORT) },
      { name: 'TIFFIN_SHUTDOWN_GRACE_MS', value: String(drain * 1000) },
      // Off loopback a model repository needs a management token; the inference token is optional.
      { name: 'TIFFIN_MANAGEMENT_TOKEN', valueFrom: { secretKeyRef: { name: secret, key: 'management-token', optional: !bundle.servesModels } } },
      { name: 'TIFFIN_INFERENCE_TOKEN', valueFrom: { secretKeyRef: { name: secret, key: 'inference-token', optional: true } } },
    ],
    resources: {
      requests: { cpu: r.cpu ?? '500m', memory: r.memory ?? '512Mi' },
      limits: { ...(r.cpuLimit ? { cpu: r.cpuLimit } : {}), memory: r.memoryLimit ?? '2Gi' },
    },
    // Live as soon as the process answers; ready once models are loaded and startup hooks ran.
    livenessProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
    // Large models take a while to load: up to 5 minutes before liveness counts.
    startupProbe: { httpGet: { path: '/livez', port: 'http' }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 60 },
    // Keep serving while endpoint controllers take the pod out of Services; then SIGTERM starts the drain.
    lifecycle: { preStop: { exec: { command: ['node', '-e', `setTimeout(() => {}, ${PRE_STOP_SECONDS * 1000})`] } } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: CONTAINER_UID,
      runAsGroup: CONTAINER_UID,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    // TIFFIN_HOME (/tmp/tiffin) and Node's temp files need a writable folder under a read-only root.
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };

  const objects: K8sObject[] = [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: metadata(),
      spec: {
        replicas: options.replicas ?? 2,
        selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: {
            labels,
            annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(HTTP_PORT), 'prometheus.io/path': '/metrics' },
          },
          spec: {
            // Above the drain grace plus the preStop pause, so Kubernetes never kills a pod that is still draining.
            terminationGracePeriodSeconds: drain + PRE_STOP_SECONDS + 10,
            securityContext: { runAsNonRoot: true, runAsUser: CONTAINER_UID, fsGroup: CONTAINER_UID, seccompProfile: { type: 'RuntimeDefault' } },
            automountServiceAccountToken: false,
            containers: [container],
            volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: metadata(),
      spec: {
        selector,
        ports: [
          { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
          { name: 'grpc', port: GRPC_PORT, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
        ],
      },
    },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: metadata(),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: options.replicas ?? 2,
        maxReplicas: Math.max(options.maxReplicas ?? 10, options.replicas ?? 2),
        metrics: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } },
          // Needs the Prometheus adapter (or another custom-metrics API) serving tiffin_http_requests_in_flight.
          { type: 'Pods', pods: { metric: { name: IN_FLIGHT_METRIC }, target: { type: 'AverageValue', averageValue: String(options.inFlightTarget ?? 16) } } },
        ],
        behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
      },
    },
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: metadata(),
      spec: { maxUnavailable: 1, selector: { matchLabels: selector } },
    },
  ];

  if (options.job) return [batchJob(objects[0]!, options.job)];
  if (options.runners?.length) objects.push(...runnerObjects(objects[0]!, options.runners, options.runnerSettings));

  if (options.serviceMonitor) {
    objects.push({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: metadata(),
      spec: { selector: { matchLabels: selector }, endpoints: [{ port: 'http', path: '/metrics', interval: '15s' }] },
    });
  }

  if (options.kserve) {
    const runtime = `${name}-runtime`;
    objects.push(
      {
        apiVersion: 'serving.kserve.io/v1alpha1',
        kind: 'ServingRuntime',
        metadata: metadata('-runtime'),
        spec: {
          supportedModelFormats: [{ name: 'tiffin', version: '1', autoSelect: true }],
          protocolVersions: ['v2', 'grpc-v2'],
          containers: [
            {
              name: 'kserve-container',
              image,
              args: ['serve', '/bundle'],
              ports: [{ containerPort: 8080, protocol: 'TCP' }],
              env: [
                // KServe routes to 8080 and probes the V2 health endpoints, which Tiffin serves.
                { name: 'PORT', value: '8080' },
                { name: 'TIFFIN_HOST', value: '0.0.0.0' },
                { name: 'TIFFIN_MANAGEMENT_TOKEN', valueFrom: { secretKeyRef: { name: secret, key: 'management-token', optional: !bundle.servesModels } } },
              ],
              resources: container.resources,
              securityContext: container.securityContext,
            },
          ],
        },
      },
      {
        apiVersion: 'serving.kserve.io/v1beta1',
        kind: 'InferenceService',
        metadata: metadata(),
        spec: {
          predictor: {
            minReplicas: options.replicas ?? 1,
            maxReplicas: Math.max(options.maxReplicas ?? 10, options.replicas ?? 1),
            model: { modelFormat: { name: 'tiffin', version: '1' }, runtime, protocolVersion: 'v2' },
          },
        },
      },
    );
  }
  return objects;
}
