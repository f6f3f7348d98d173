// The text-recognition service: crops of single text lines in, their text out (PP-OCRv4's CRNN/SVTR recognizer,
// model ocr_rec). All crops of a request go to the model as one batch, in one call through its runner.
import { z } from 'zod';
import { service, tensor } from '../../src/index.ts';
import { recognitionBatch, REC_HEIGHT, REC_WIDTH } from './crops.ts';
import { ctcGreedyDecode } from './ctc-decode.ts';
import { decodeBase64Image } from './image-decode.ts';
import { loadCharacters } from './model-files.ts';

const Crops = z.object({ crops: z.array(z.string().min(1)).max(256).describe('base64 PNG or JPEG images, one text line each') });
const Texts = z.object({ texts: z.array(z.object({ text: z.string(), confidence: z.number() })).describe('one per crop, in order') });

export default service('ocr-recognition', { models: { rec: 'ocr_rec:latest' }, description: 'Reads single lines of text (PP-OCRv4 recognition).' })
  .onStartup(async (ctx) => {
    await loadCharacters();
    await ctx.models.rec.run({ x: tensor('float32', [1, 3, REC_HEIGHT, REC_WIDTH], new Float32Array(3 * REC_HEIGHT * REC_WIDTH)) });
  })
  .api('read', {
    input: Crops,
    output: Texts,
    summary: 'Read the text of each crop',
    handler: async ({ crops }, ctx) => {
      if (crops.length === 0) return { texts: [] };
      const images = await Promise.all(crops.map(async (c, i) => (await decodeBase64Image(c, ['crops', i])).image));
      const out = (await ctx.models.rec.run({ x: recognitionBatch(images) })).get('softmax_11.tmp_0', 'float32'); // [N, T, 6625]
      const texts = ctcGreedyDecode(out.data, out.shape, await loadCharacters());
      return { texts: texts.map((t) => ({ text: t.text, confidence: Number(t.confidence.toFixed(4)) })) };
    },
  });
