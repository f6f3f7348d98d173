// Owns: deploying a bundle's image on Kubernetes: the manifests (Deployment, Service, HPA, PDB, ServiceMonitor,
// KServe ServingRuntime and InferenceService; per-model runner Deployments; an Indexed Job for offline batch) as plain objects, and writing them with a kustomization.yaml.
// Knows nothing about: clusters (nothing is applied), how images are built (src/container).
export { CONTAINER_UID, GRPC_PORT, HTTP_PORT, IN_FLIGHT_METRIC, PRE_STOP_SECONDS, k8sName, kubernetesManifests } from './k8s-manifests.ts';
export type { DeployedBundle, K8sObject, K8sOptions } from './k8s-manifests.ts';
export { writeManifests } from './write-manifests.ts';
export { QUEUE_DEPTH_METRIC, RUNNER_GRPC_PORT, runnerName, runnersEnv, type RunnerSettings } from './runner-manifests.ts';
export { DATA_ROOT, batchJob, type JobSettings } from './job-manifest.ts';
