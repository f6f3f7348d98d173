// TensorFlow.js model folders for tests: a small layers model built and saved with tfjs itself (known weights, so
// its predictions can be computed by hand), and the MobileNetV2 classifier shipped inside the pinned nsfwjs package,
// whose model.json and weight shard are wrapped in JavaScript modules there and unpacked here into a plain folder.
import { createRequire } from 'node:module';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Dense(3 -> 2, relu) then Dense(2 -> 1): kernel and bias of each layer. */
export const DENSE = {
  k1: [[0.5, -1], [1, 2], [-0.5, 0.25]],
  b1: [0.1, -0.2],
  k2: [[2], [-3]],
  b2: [0.5],
};

/** y = relu(x·k1 + b1)·k2 + b2, by hand. */
export function expectedDense(x: readonly number[]): number {
  const h = [0, 1].map((j) => Math.max(0, x[0]! * DENSE.k1[0]![j]! + x[1]! * DENSE.k1[1]![j]! + x[2]! * DENSE.k1[2]![j]! + DENSE.b1[j]!));
  return h[0]! * DENSE.k2[0]![0]! + h[1]! * DENSE.k2[1]![0]! + DENSE.b2[0]!;
}

/** Builds the dense model with tfjs-layers, sets its weights and saves it with tfjs's own serialisation. */
export async function writeDenseModel(dir: string): Promise<void> {
  const tf = (await import('@tensorflow/tfjs-core')) as unknown as typeof import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  const tfl = (await import('@tensorflow/tfjs-layers')) as unknown as typeof import('@tensorflow/tfjs-layers');
  tf.env().set('PROD', true); // no console hint about tfjs-node
  await tf.setBackend('cpu');
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ units: 2, activation: 'relu', inputShape: [3], name: 'hidden' }), tfl.layers.dense({ units: 1, name: 'score' })],
  });
  model.setWeights([tf.tensor2d(DENSE.k1), tf.tensor1d(DENSE.b1), tf.tensor2d(DENSE.k2), tf.tensor1d(DENSE.b2)]);
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData as ArrayBuffer;
      await writeFile(join(dir, 'weights.bin'), Buffer.from(data));
      const json = {
        format: artifacts.format, generatedBy: artifacts.generatedBy, convertedBy: artifacts.convertedBy,
        modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
}

/** nsfwjs's MobileNetV2 (224×224×3 in, 5 classes out), unpacked from the package's JS modules into `dir`. */
export async function writeNsfwMobileNet(dir: string): Promise<{ classes: string[] }> {
  const require = createRequire(import.meta.url);
  // The package exports no package.json: its root is three folders above its CommonJS entry (dist/cjs/index.js).
  const base = join(require.resolve('nsfwjs'), '..', '..', 'models', 'mobilenet_v2');
  // Each file is a UMD bundle whose export is the model.json object, or a shard's bytes in base64.
  const json = require(join(base, 'model.min.js')) as { weightsManifest: { paths: string[] }[] };
  await mkdir(dir, { recursive: true });
  const shards = json.weightsManifest.flatMap((g) => g.paths);
  for (const [i, path] of shards.entries()) {
    const base64 = require(join(base, `group1-shard${i + 1}of${shards.length}.min.js`)) as string;
    await writeFile(join(dir, path), Buffer.from(base64, 'base64'));
  }
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
  return { classes: ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'] };
}

/** y = relu(x·W + b) with W and b below: a graph model (the converter's format) written node by node. */
export const GRAPH = { w: [[1, -2], [0.5, 1], [-1, 3]], b: [0.25, -0.5] };

export function expectedGraph(x: readonly number[]): number[] {
  return [0, 1].map((j) => Math.max(0, x[0]! * GRAPH.w[0]![j]! + x[1]! * GRAPH.w[1]![j]! + x[2]! * GRAPH.w[2]![j]! + GRAPH.b[j]!));
}

export async function writeGraphModel(dir: string): Promise<void> {
  const float = { type: 'DT_FLOAT' };
  const constant = (name: string, dims: number[]) => ({
    name, op: 'Const',
    attr: { dtype: float, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } } },
  });
  const json = {
    format: 'graph-model', generatedBy: 'tiffin tests', convertedBy: 'hand-written',
    modelTopology: {
      node: [
        { name: 'features', op: 'Placeholder', attr: { dtype: float, shape: { shape: { dim: [{ size: '-1' }, { size: '3' }] } } } },
        constant('W', [3, 2]),
        constant('b', [2]),
        { name: 'MatMul', op: 'MatMul', input: ['features', 'W'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
        { name: 'BiasAdd', op: 'BiasAdd', input: ['MatMul', 'b'], attr: { T: float, data_format: { s: Buffer.from('NHWC').toString('base64') } } },
        { name: 'scores', op: 'Relu', input: ['BiasAdd'], attr: { T: float } },
      ],
      library: {},
      versions: { producer: 1 },
    },
    // What tensorflowjs_converter writes for a SavedModel's serving signature: shapes the nodes alone do not say.
    signature: {
      inputs: { 'features:0': { name: 'features:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: '3' }] } } },
      outputs: { 'scores:0': { name: 'scores:0', dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '-1' }, { size: '2' }] } } },
    },
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'W', shape: [3, 2], dtype: 'float32' }, { name: 'b', shape: [2], dtype: 'float32' }] }],
  };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.bin'), Buffer.from(Float32Array.from([...GRAPH.w.flat(), ...GRAPH.b]).buffer));
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
}
