// Cutting text boxes out of an image, and turning crops into the recognizer's batch.
import { tensor, type Tensor } from '../../src/index.ts';
import type { RgbImage } from './detection-input.ts';
import type { Point, Quad } from './geometry.ts';

/** PP-OCRv4's recognizer input height. */
export const REC_HEIGHT = 48;
/** Every crop is padded to this width, so crops from different requests stack into one batch (wider ones are squeezed). */
export const REC_WIDTH = 320;

/** Bilinear sample of channel c at (x, y), edge pixels repeated. */
function sample(img: RgbImage, x: number, y: number, c: number): number {
  const cx = Math.min(Math.max(x, 0), img.width - 1), cy = Math.min(Math.max(y, 0), img.height - 1);
  const x0 = Math.floor(cx), y0 = Math.floor(cy);
  const x1 = Math.min(x0 + 1, img.width - 1), y1 = Math.min(y0 + 1, img.height - 1);
  const fx = cx - x0, fy = cy - y0;
  const at = (px: number, py: number) => img.data[(py * img.width + px) * 3 + c]!;
  return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
}

/**
 * An affine warp from a parallelogram (origin, and the ends of its two sides) to a width x height RGB image.
 * Boxes are rotated rectangles, so three corners define them exactly: no full perspective warp needed.
 */
function warp(img: RgbImage, origin: Point, right: Point, down: Point, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const ux = (right[0] - origin[0]) / width, uy = (right[1] - origin[1]) / width;
  const vx = (down[0] - origin[0]) / height, vy = (down[1] - origin[1]) / height;
  for (let j = 0; j < height; j++) {
    for (let i = 0; i < width; i++) {
      // Sample at the destination pixel's centre; -0.5 maps back to source pixel-centre coordinates.
      const x = origin[0] + (i + 0.5) * ux + (j + 0.5) * vx - 0.5;
      const y = origin[1] + (i + 0.5) * uy + (j + 0.5) * vy - 0.5;
      for (let c = 0; c < 3; c++) data[(j * width + i) * 3 + c] = Math.round(sample(img, x, y, c));
    }
  }
  return { width, height, data };
}

/** The box cut out upright at its own size; a box much taller than wide is vertical text, turned to read left to right. */
export function cropBox(img: RgbImage, [tl, tr, br, bl]: Quad): RgbImage {
  const width = Math.max(1, Math.round(Math.max(Math.hypot(tr[0] - tl[0], tr[1] - tl[1]), Math.hypot(br[0] - bl[0], br[1] - bl[1]))));
  const height = Math.max(1, Math.round(Math.max(Math.hypot(bl[0] - tl[0], bl[1] - tl[1]), Math.hypot(br[0] - tr[0], br[1] - tr[1]))));
  if (height >= 1.5 * width) return warp(img, tr, br, tl, height, width); // rotate 90°, as PP-OCR does
  return warp(img, tl, tr, bl, width, height);
}

/**
 * One [N, 3, 48, 320] batch: each crop scaled to height 48 keeping its aspect ratio (capped at 320 wide),
 * BGR in [-1, 1] as PP-OCR trained the recognizer, right-padded with 0 (mid-grey).
 */
export function recognitionBatch(crops: readonly RgbImage[]): Tensor<'float32'> {
  const plane = REC_HEIGHT * REC_WIDTH;
  const out = new Float32Array(crops.length * 3 * plane);
  crops.forEach((crop, n) => {
    const width = Math.min(REC_WIDTH, Math.max(1, Math.ceil((REC_HEIGHT * crop.width) / crop.height)));
    const scaled = warp(crop, [0, 0], [crop.width, 0], [0, crop.height], width, REC_HEIGHT);
    for (let c = 0; c < 3; c++) {
      const base = (n * 3 + c) * plane;
      for (let y = 0; y < REC_HEIGHT; y++) {
        for (let x = 0; x < width; x++) out[base + y * REC_WIDTH + x] = scaled.data[(y * width + x) * 3 + (2 - c)]! / 127.5 - 1;
      }
    }
  });
  return tensor('float32', [crops.length, 3, REC_HEIGHT, REC_WIDTH], out);
}
