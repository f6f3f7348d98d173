// Test support: checks a generated object against its schema. Core kinds go through kubernetes-models, which
// validates against the Kubernetes OpenAPI schemas; the CRDs against the subset of their published schemas that
// the generator uses, written here from KServe 0.14's serving.kserve.io CRDs (ServingRuntime v1alpha1,
// InferenceService v1beta1) and prometheus-operator 0.76's monitoring.coreos.com/v1 ServiceMonitor.
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Container } from 'kubernetes-models/v1/Container';
import { Service } from 'kubernetes-models/v1/Service';
import { z } from 'zod';

const dns1123 = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).max(63);
const metadata = z.object({ name: dns1123, namespace: dns1123.optional(), labels: z.record(z.string(), z.string().max(63)).optional(), annotations: z.record(z.string(), z.string()).optional() });
const labelSelector = z.strictObject({ matchLabels: z.record(z.string(), z.string()).optional(), matchExpressions: z.array(z.unknown()).optional() });
const container = z.unknown().superRefine((value, ctx) => {
  try {
    new Container(value as ConstructorParameters<typeof Container>[0]).validate();
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `container: ${(err as Error).message}` });
  }
});

const CRDS: Record<string, z.ZodType> = {
  'serving.kserve.io/v1alpha1/ServingRuntime': z.strictObject({
    apiVersion: z.literal('serving.kserve.io/v1alpha1'),
    kind: z.literal('ServingRuntime'),
    metadata,
    spec: z.strictObject({
      supportedModelFormats: z.array(z.strictObject({ name: z.string(), version: z.string().optional(), autoSelect: z.boolean().optional(), priority: z.number().int().min(1).optional() })).min(1),
      protocolVersions: z.array(z.enum(['v1', 'v2', 'grpc-v1', 'grpc-v2'])).optional(),
      multiModel: z.boolean().optional(),
      containers: z.array(container).min(1),
    }),
  }),
  'serving.kserve.io/v1beta1/InferenceService': z.strictObject({
    apiVersion: z.literal('serving.kserve.io/v1beta1'),
    kind: z.literal('InferenceService'),
    metadata,
    spec: z.strictObject({
      predictor: z.strictObject({
        minReplicas: z.number().int().min(0).optional(),
        maxReplicas: z.number().int().min(0).optional(),
        model: z.strictObject({
          modelFormat: z.strictObject({ name: z.string(), version: z.string().optional() }),
          runtime: z.string().optional(),
          protocolVersion: z.enum(['v1', 'v2', 'grpc-v2']).optional(),
          storageUri: z.string().optional(),
        }),
      }),
    }),
  }),
  'monitoring.coreos.com/v1/ServiceMonitor': z.strictObject({
    apiVersion: z.literal('monitoring.coreos.com/v1'),
    kind: z.literal('ServiceMonitor'),
    metadata,
    spec: z.strictObject({
      selector: labelSelector,
      endpoints: z.array(z.strictObject({
        port: z.string().optional(),
        path: z.string().optional(),
        interval: z.string().regex(/^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/).optional(),
      })),
    }),
  }),
};

const CORE: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'batch/v1/Job': Job,
};

/** Throws with the schema's complaint unless `object` is valid for its apiVersion and kind. */
export function validateObject(object: { apiVersion: string; kind: string }): void {
  const key = `${object.apiVersion}/${object.kind}`;
  const Model = CORE[key];
  if (Model) return new Model(object as never).validate();
  const schema = CRDS[key];
  if (!schema) throw new Error(`no schema for ${key}`);
  const parsed = schema.safeParse(object);
  if (!parsed.success) throw new Error(`${key}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
}
