// Detection preprocessing: the image resized so each side is a multiple of 32 (the DB network downsamples by
// 32), the long side limited, then normalized as PP-OCR trained it: BGR, ImageNet mean/std, NCHW float32.
import sharp from 'sharp';
import { tensor, type Tensor } from '../../src/index.ts';

/** PP-OCRv4's default det_limit_side_len: larger images cost more than they gain. */
export const DETECTION_MAX_SIDE = 960;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** Interleaved 8-bit RGB pixels. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface DetectionInput {
  input: Tensor<'float32'>;
  /** Original size over network input size, per axis, to map boxes back. */
  scaleX: number;
  scaleY: number;
}

/** The network size for an image: long side at most `maxSide`, each side rounded to a multiple of 32 (at least 32). */
export function detectionSize(width: number, height: number, maxSide = DETECTION_MAX_SIDE): { width: number; height: number } {
  const ratio = Math.min(1, maxSide / Math.max(width, height));
  const round = (v: number) => Math.max(32, Math.round((v * ratio) / 32) * 32);
  return { width: round(width), height: round(height) };
}

export async function detectionInput(image: RgbImage): Promise<DetectionInput> {
  const size = detectionSize(image.width, image.height);
  const resized = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(size.width, size.height, { fit: 'fill' })
    .raw()
    .toBuffer();
  const plane = size.width * size.height;
  const out = new Float32Array(3 * plane);
  // Channel c of the tensor is BGR order (PP-OCR reads images with OpenCV), so it takes RGB channel 2 - c.
  for (let c = 0; c < 3; c++) {
    const src = 2 - c;
    const mean = MEAN[c]! * 255;
    const scale = 1 / (STD[c]! * 255);
    for (let i = 0; i < plane; i++) out[c * plane + i] = (resized[i * 3 + src]! - mean) * scale;
  }
  return { input: tensor('float32', [1, 3, size.height, size.width], out), scaleX: image.width / size.width, scaleY: image.height / size.height };
}
