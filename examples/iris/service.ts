// The Iris classifier as a Tiffin service: one typed API in front of the stored ONNX model.
// Serve it with `tiffin serve examples/iris/service.ts` once `iris` is in the store (`npm run demo` does both).
import { z } from 'zod';
import { service, tensor } from '../../src/index.ts';
import { SPECIES } from './train.ts';

const Flower = z.object({
  sepal_length: z.number().positive().describe('centimetres'),
  sepal_width: z.number().positive().describe('centimetres'),
  petal_length: z.number().positive().describe('centimetres'),
  petal_width: z.number().positive().describe('centimetres'),
});

const Prediction = z.object({
  species: z.enum(SPECIES),
  probabilities: z.record(z.enum(SPECIES), z.number()),
});

export default service('iris', { models: { iris: 'iris:latest' }, description: 'Classifies Iris flowers from four measurements.' })
  .onStartup(async (ctx) => {
    // Warm-up: the first run of an ONNX session allocates its buffers; do it before /readyz says yes.
    await ctx.models.iris.run({ input: tensor('float32', [1, 4], Float32Array.from([5.1, 3.5, 1.4, 0.2])) });
  })
  .api('classify', {
    input: Flower,
    output: Prediction,
    summary: 'Predict the species of one flower',
    handler: async (flower, ctx) => {
      const x = Float32Array.from([flower.sepal_length, flower.sepal_width, flower.petal_length, flower.petal_width]);
      const out = await ctx.models.iris.run({ input: tensor('float32', [1, 4], x) });
      const p = out.get('probabilities', 'float32').data; // a Float32Array; a missing output fails naming it
      const best = p.indexOf(Math.max(...p));
      return {
        species: SPECIES[best]!,
        probabilities: Object.fromEntries(SPECIES.map((s, i) => [s, Number(p[i]!.toFixed(4))])) as Record<(typeof SPECIES)[number], number>,
      };
    },
  });
