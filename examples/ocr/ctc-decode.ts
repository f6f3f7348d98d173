// CTC greedy decoding: the recognizer scores every class at each of its time steps; the best class per step,
// with repeats merged and blanks dropped, is the text (what CTC training makes the alignment mean).

export interface RecognizedText {
  text: string;
  /** Mean probability of the kept characters (0 when none). */
  confidence: number;
}

/**
 * `probs` is [N, T, C] softmax output; class 0 is the CTC blank and class i > 0 is `characters[i - 1]`
 * (the dictionary's order, then the space PP-OCR appends).
 */
export function ctcGreedyDecode(probs: Float32Array, [n, steps, classes]: readonly number[], characters: readonly string[]): RecognizedText[] {
  if (classes !== characters.length + 1) throw new Error(`the recognizer has ${classes} classes, the dictionary ${characters.length} + blank`);
  const out: RecognizedText[] = [];
  for (let b = 0; b < n!; b++) {
    let text = '';
    let sum = 0;
    let kept = 0;
    let previous = 0;
    for (let t = 0; t < steps!; t++) {
      const row = (b * steps! + t) * classes;
      let best = 0;
      for (let k = 1; k < classes; k++) if (probs[row + k]! > probs[row + best]!) best = k;
      if (best !== 0 && best !== previous) {
        text += characters[best - 1];
        sum += probs[row + best]!;
        kept++;
      }
      previous = best;
    }
    out.push({ text, confidence: kept ? sum / kept : 0 });
  }
  return out;
}
