// DB (Differentiable Binarization) post-processing: from the detector's text-probability map to text boxes.
// The network predicts shrunk text kernels, so each region is thresholded, boxed, scored and grown back.
import { insidePolygon, minAreaRect, rectCorners, type Point, type Quad } from './geometry.ts';

export interface DbOptions {
  /** Pixels above this probability are text (PP-OCR's det_db_thresh). */
  threshold: number;
  /** Boxes whose mean probability inside is lower are dropped (det_db_box_thresh). */
  boxThreshold: number;
  /** How far to grow a kernel back: distance = area * ratio / perimeter (det_db_unclip_ratio). */
  unclipRatio: number;
  /** Boxes with a shorter side (in map pixels) are noise. */
  minSize: number;
  maxCandidates: number;
}

export const DB_DEFAULTS: DbOptions = { threshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, minSize: 3, maxCandidates: 1000 };

export interface TextBox {
  points: Quad;
  score: number;
}

/** Connected regions of the thresholded map (8-connectivity), each as its pixels' coordinates. */
function regions(prob: Float32Array, width: number, height: number, threshold: number, max: number): Point[][] {
  const seen = new Uint8Array(width * height);
  const stack: number[] = [];
  const out: Point[][] = [];
  for (let start = 0; start < prob.length && out.length < max; start++) {
    if (seen[start] || prob[start]! <= threshold) continue;
    const pixels: Point[] = [];
    seen[start] = 1;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % width, y = (i - x) / width;
      // Pixel corners, not centres, so a region's rectangle covers its pixels whole.
      pixels.push([x, y], [x + 1, y], [x, y + 1], [x + 1, y + 1]);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const n = ny * width + nx;
          if (!seen[n] && prob[n]! > threshold) { seen[n] = 1; stack.push(n); }
        }
      }
    }
    out.push(pixels);
  }
  return out;
}

/** Mean probability inside the box: a region that is only barely above the threshold is not confident text. */
function boxScore(prob: Float32Array, width: number, height: number, box: Quad): number {
  const xs = box.map((p) => p[0]), ys = box.map((p) => p[1]);
  const x0 = Math.max(0, Math.floor(Math.min(...xs))), x1 = Math.min(width - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys))), y1 = Math.min(height - 1, Math.ceil(Math.max(...ys)));
  let sum = 0, n = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (insidePolygon(x + 0.5, y + 0.5, box)) { sum += prob[y * width + x]!; n++; }
    }
  }
  return n ? sum / n : 0;
}

/**
 * Boxes in the original image's pixels, sorted top-to-bottom then left-to-right. `scaleX`/`scaleY` map the
 * probability map (the network's input size) back to the image.
 */
export function dbBoxes(prob: Float32Array, width: number, height: number, scale: { scaleX: number; scaleY: number; imageWidth: number; imageHeight: number }, options: DbOptions = DB_DEFAULTS): TextBox[] {
  const boxes: TextBox[] = [];
  for (const pixels of regions(prob, width, height, options.threshold, options.maxCandidates)) {
    const rect = minAreaRect(pixels);
    if (Math.min(rect.width, rect.height) < options.minSize) continue;
    const score = boxScore(prob, width, height, rectCorners(rect));
    if (score < options.boxThreshold) continue;
    // Unclip: DB was trained on kernels shrunk by this same offset (Vatti clipping), so growing the rectangle by
    // area * ratio / perimeter on every side recovers the whole text. For a rectangle the offset is exact.
    const distance = (rect.width * rect.height * options.unclipRatio) / (2 * (rect.width + rect.height));
    const grown = { ...rect, width: rect.width + 2 * distance, height: rect.height + 2 * distance };
    if (Math.min(grown.width, grown.height) < options.minSize + 2) continue;
    const clamp = (v: number, max: number) => Math.round(Math.min(Math.max(v, 0), max));
    const points = rectCorners(grown).map(([x, y]): Point => [clamp(x * scale.scaleX, scale.imageWidth), clamp(y * scale.scaleY, scale.imageHeight)]) as Quad;
    boxes.push({ points, score });
  }
  return sortReadingOrder(boxes);
}

/** Top-to-bottom by the top-left corner; boxes whose tops are within 10 px are one row, read left to right. */
export function sortReadingOrder(boxes: TextBox[]): TextBox[] {
  const sorted = [...boxes].sort((a, b) => a.points[0][1] - b.points[0][1] || a.points[0][0] - b.points[0][0]);
  for (let i = 1; i < sorted.length; i++) {
    for (let j = i; j > 0; j--) {
      const [prev, cur] = [sorted[j - 1]!, sorted[j]!];
      if (Math.abs(cur.points[0][1] - prev.points[0][1]) < 10 && cur.points[0][0] < prev.points[0][0]) [sorted[j - 1], sorted[j]] = [cur, prev];
      else break;
    }
  }
  return sorted;
}
