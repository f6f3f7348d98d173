// (c) The benchmark's model behind a Tiffin service, as a user would write it; the benchmark serves it
// with `tiffin serve` and its defaults (runner replicas, adaptive batching, logging).
import { z } from 'zod';
import { service, tensor } from '../../src/index.ts';
import { MODEL_NAME, WIDTH } from '../lib/model.ts';

export default service('batching-bench', { models: { mlp: `${MODEL_NAME}:latest` } })
  .api('predict', {
    input: z.object({ input: z.array(z.number()).length(WIDTH) }),
    output: z.object({ output: z.array(z.number()) }),
    summary: 'The MLP on one row of 256 floats',
    handler: async ({ input }, ctx) => {
      const out = await ctx.models.mlp.run({ input: tensor('float32', [1, WIDTH], Float32Array.from(input)) });
      return { output: Array.from(out.output!.data as Float32Array) };
    },
  });
