// Joins word boxes into line boxes. DB finds text kernels, and at a large font the gap between two words is wide
// enough to split them; callers want lines, and the recognizer reads a whole line (spaces included) at once.
import { minAreaRect, rectCorners, type Point } from './geometry.ts';
import type { TextBox } from './db-postprocess.ts';

const height = (b: TextBox) => (Math.hypot(b.points[3][0] - b.points[0][0], b.points[3][1] - b.points[0][1]) + Math.hypot(b.points[2][0] - b.points[1][0], b.points[2][1] - b.points[1][1])) / 2;
const centreY = (b: TextBox) => b.points.reduce((s, p) => s + p[1], 0) / 4;

/** True when `b` continues `a`'s line: a similar height, the same row, and a gap shorter than the text is tall. */
function sameLine(a: TextBox, b: TextBox): boolean {
  const ha = height(a), hb = height(b);
  if (Math.max(ha, hb) > 1.5 * Math.min(ha, hb)) return false;
  if (Math.abs(centreY(a) - centreY(b)) > 0.5 * Math.min(ha, hb)) return false;
  const gap = Math.min(b.points[0][0], b.points[3][0]) - Math.max(a.points[1][0], a.points[2][0]);
  return gap < Math.min(ha, hb);
}

/** Boxes in reading order in, line boxes in reading order out (a line's score is its words' mean). */
export function mergeLines(boxes: readonly TextBox[]): TextBox[] {
  const lines: TextBox[][] = [];
  for (const box of boxes) {
    const line = lines.find((l) => sameLine(l[l.length - 1]!, box));
    if (line) line.push(box);
    else lines.push([box]);
  }
  return lines.map((words) => {
    if (words.length === 1) return words[0]!;
    const corners: Point[] = words.flatMap((w) => w.points);
    return { points: rectCorners(minAreaRect(corners)), score: words.reduce((s, w) => s + w.score, 0) / words.length };
  });
}
