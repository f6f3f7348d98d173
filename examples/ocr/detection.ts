// The text-detection service: an image in, boxes around its lines of text out (PP-OCRv4's DB detector, model ocr_det).
// Served alone (`tiffin serve examples/ocr/detection.ts`) or as the `det` dependency of the ocr service.
import { z } from 'zod';
import { io, service, tensor } from '../../src/index.ts';
import { dbBoxes } from './db-postprocess.ts';
import { detectionInput, type RgbImage } from './detection-input.ts';
import { mergeLines } from './line-merge.ts';

const PointSchema = z.tuple([z.number(), z.number()]);
export const BoxSchema = z.tuple([PointSchema, PointSchema, PointSchema, PointSchema]).describe('corners in image pixels: top-left, top-right, bottom-right, bottom-left');

const Detection = z.object({
  width: z.number().int(),
  height: z.number().int(),
  boxes: z.array(z.object({ points: BoxSchema, score: z.number() })).describe('one per line of text, in reading order'),
});

export default service('ocr-detection', { models: { det: 'ocr_det:latest' }, description: 'Finds lines of text in an image (PP-OCRv4 detection).' })
  .onStartup(async (ctx) => {
    // The first run sizes onnxruntime's buffers; pay for it before /readyz says yes.
    await ctx.models.det.run({ x: tensor('float32', [1, 3, 32, 32], new Float32Array(3 * 32 * 32)) });
  })
  .api('detect', {
    input: io.image({ formats: ['png', 'jpeg'], channels: 3 }),
    output: Detection,
    summary: 'Find text boxes in a PNG or JPEG image',
    handler: async (image, ctx) => {
      const rgb: RgbImage = { width: image.width, height: image.height, data: image.data };
      const { input, scaleX, scaleY } = await detectionInput(rgb);
      const out = (await ctx.models.det.run({ x: input })).get('sigmoid_0.tmp_0', 'float32'); // [1, 1, H, W]
      const [, , h, w] = out.shape;
      const boxes = mergeLines(dbBoxes(out.data, w!, h!, { scaleX, scaleY, imageWidth: image.width, imageHeight: image.height }));
      return { width: image.width, height: image.height, boxes: boxes.map((b) => ({ points: b.points, score: Number(b.score.toFixed(4)) })) };
    },
  });
