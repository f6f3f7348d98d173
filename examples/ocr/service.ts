// The OCR service: POST /recognize with a PNG or JPEG (raw body or multipart), or POST /recognize/base64 with
// { "image": "<base64>" }; answers { lines: [{ text, confidence, box }] } in reading order. It composes the
// detection and recognition services (its dependencies `det` and `rec`), cutting the crops between them.
import { z } from 'zod';
import { io, service } from '../../src/index.ts';
import type { ServiceClients } from '../../src/service/index.ts';
import { cropBox } from './crops.ts';
import type { RgbImage } from './detection-input.ts';
import detection, { BoxSchema } from './detection.ts';
import { decodeBase64Image, encodeBase64Png } from './image-decode.ts';
import recognition from './recognition.ts';

const Lines = z.object({
  lines: z.array(z.object({ text: z.string(), confidence: z.number(), box: BoxSchema })).describe('top to bottom, then left to right'),
});

const depends = { det: detection, rec: recognition };
type Services = ServiceClients<typeof depends>;

/** Boxes from `det`, crops cut here (this service holds the pixels), text from `rec` in one batch. */
async function readLines(image: RgbImage, bytes: Uint8Array, services: Services): Promise<z.input<typeof Lines>> {
  const { boxes } = await services.det.detect(bytes);
  if (boxes.length === 0) return { lines: [] };
  const crops = await Promise.all(boxes.map((b) => encodeBase64Png(cropBox(image, b.points))));
  const { texts } = await services.rec.read({ crops });
  const lines = boxes.map((b, i) => ({ text: texts[i]?.text ?? '', confidence: texts[i]?.confidence ?? 0, box: b.points }));
  // A box with no characters read was a false detection.
  return { lines: lines.filter((l) => l.text.trim() !== '') };
}

export default service('ocr', { depends, description: 'Reads the text in an image: PP-OCRv4 detection, then recognition.' })
  .api('recognize', {
    input: io.image({ formats: ['png', 'jpeg'], channels: 3 }),
    output: Lines,
    summary: 'Read the text in a PNG or JPEG image (raw body or multipart upload)',
    handler: (image, ctx) => readLines({ width: image.width, height: image.height, data: image.data }, image.original.data, ctx.services),
  })
  .api('recognize_base64', {
    route: '/recognize/base64',
    input: z.object({ image: z.string().min(1).describe('a base64 PNG or JPEG (a data: URL prefix is allowed)') }),
    output: Lines,
    summary: 'Read the text in a base64 PNG or JPEG image',
    handler: async ({ image: text }, ctx) => {
      const { image, bytes } = await decodeBase64Image(text, ['image']);
      return readLines(image, bytes, ctx.services);
    },
  });
