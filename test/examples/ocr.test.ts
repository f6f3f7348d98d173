// The OCR example end to end: save the PP-OCRv4 models from node_modules into a temp store, serve the composed
// ocr service (its detection and recognition dependencies each with their own runners), post an image of text
// rendered here, and read the exact text back. Also: zero-code V2 still serves the raw models.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { ctcGreedyDecode } from '../../examples/ocr/ctc-decode.ts';
import { sortReadingOrder } from '../../examples/ocr/db-postprocess.ts';
import { detectionSize } from '../../examples/ocr/detection-input.ts';
import { minAreaRect, rectCorners, type Quad } from '../../examples/ocr/geometry.ts';
import { saveOcrModels } from '../../examples/ocr/save-models.ts';
import ocr from '../../examples/ocr/service.ts';
import { Models } from '../../src/models/index.ts';
import { parseModelList } from '../../src/repository/index.ts';
import { serveModels, startServer } from '../../src/serving/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

// DejaVu Sans (Debian: fonts-dejavu-core); black on white, large, as a scanned page would be.
async function renderText(lines: string[], degrees = 0): Promise<Buffer> {
  const text = lines.map((l, i) => `<text x="40" y="${100 + i * 110}" font-family="DejaVu Sans" font-size="64" transform="rotate(${degrees} 360 140)">${l}</text>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="${60 + lines.length * 110}"><rect width="100%" height="100%" fill="white"/>${text}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

interface Answer {
  lines: { text: string; confidence: number; box: [number, number][] }[];
}

test('the ocr service reads rendered text back exactly, from an upload and from base64 JSON', async (t) => {
  const work = await tempDir('ocr');
  const models = new Models(new ModelStore(join(work, 'store')));
  assert.deepEqual((await saveOcrModels(models)).map((tag) => tag.split(':')[0]), ['ocr_det', 'ocr_rec']);

  const server = await startServer(ocr, { port: 0, logLevel: 'silent', storeRoot: models.store.root });
  t.after(() => server.close());
  await server.ready;

  const png = await renderText(['HELLO TIFFIN', '12345']);
  const started = performance.now();
  const res = await fetch(`${server.url}/recognize`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
  const elapsed = performance.now() - started;
  assert.equal(res.status, 200, await res.clone().text());
  const answer = (await res.json()) as Answer;
  t.diagnostic(`one request: ${elapsed.toFixed(0)} ms; ${JSON.stringify(answer)}`);
  assert.deepEqual(answer.lines.map((l) => l.text), ['HELLO TIFFIN', '12345']);
  for (const line of answer.lines) {
    assert.ok(line.confidence > 0.9, `confidence ${line.confidence} for "${line.text}"`);
    assert.equal(line.box.length, 4);
  }
  assert.ok(answer.lines[0]!.box[0]![1] < answer.lines[1]!.box[0]![1], 'lines come top to bottom');

  const warm = performance.now();
  const again = await fetch(`${server.url}/recognize`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
  assert.deepEqual(((await again.json()) as Answer).lines.map((l) => l.text), ['HELLO TIFFIN', '12345']);
  t.diagnostic(`a warm request: ${(performance.now() - warm).toFixed(0)} ms`);

  // Tilted text: the boxes are rotated rectangles, cut out upright before recognition.
  const tilted = await fetch(`${server.url}/recognize`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: await renderText(['TILTED 42'], 8) });
  const tiltedLines = ((await tilted.json()) as Answer).lines;
  t.diagnostic(`tilted: ${JSON.stringify(tiltedLines)}`);
  assert.deepEqual(tiltedLines.map((l) => l.text), ['TILTED 42']);

  const form = new FormData();
  form.append('image', new Blob([png], { type: 'image/png' }), 'text.png');
  const multipart = await fetch(`${server.url}/recognize`, { method: 'POST', body: form });
  assert.equal(multipart.status, 200);
  assert.deepEqual(((await multipart.json()) as Answer).lines.map((l) => l.text), ['HELLO TIFFIN', '12345']);

  const json = await fetch(`${server.url}/recognize/base64`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: png.toString('base64') }),
  });
  assert.equal(json.status, 200);
  assert.deepEqual(((await json.json()) as Answer).lines.map((l) => l.text), ['HELLO TIFFIN', '12345']);

  // Not an image: a 4xx JSON error, and the server still answers afterwards.
  const bad = await fetch(`${server.url}/recognize`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'this is not a picture' });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { code: string }).code, 'VALIDATION_FAILED');
  const badJson = await fetch(`${server.url}/recognize/base64`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: 'bm90IGFuIGltYWdl' }) });
  assert.equal(badJson.status, 400);
  assert.equal(((await badJson.json()) as { code: string }).code, 'VALIDATION_FAILED');
  const blank = await fetch(`${server.url}/recognize`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: await renderText([]) });
  assert.equal(blank.status, 200);
  assert.deepEqual(await blank.json(), { lines: [] });

  // Zero-code serving (`tiffin serve --models ocr_det,ocr_rec`) still offers the raw models over KServe V2.
  const zero = await serveModels({ store: models.store, models: parseModelList('ocr_det,ocr_rec'), grpc: false, pollIntervalMs: 0, http: { port: 0, logLevel: 'silent' } });
  t.after(() => zero.close());
  await zero.ready;
  const meta = await fetch(`${zero.url}/v2/models/ocr_det`);
  assert.equal(meta.status, 200);
  const body = (await meta.json()) as { name: string; inputs: { name: string; datatype: string; shape: number[] }[] };
  assert.equal(body.name, 'ocr_det');
  assert.deepEqual(body.inputs.map((i) => [i.name, i.datatype, i.shape.length]), [['x', 'FP32', 4]]);
});

test('the OCR steps: network sizes, rotated rectangles, reading order and CTC decoding', () => {
  assert.deepEqual(detectionSize(720, 280), { width: 736, height: 288 }, 'each side rounded to a multiple of 32');
  assert.deepEqual(detectionSize(4000, 1000), { width: 960, height: 256 }, 'the long side is limited to 960');
  assert.deepEqual(detectionSize(10, 10), { width: 32, height: 32 });

  // A 40 x 10 rectangle turned by 30°: its minimum-area rectangle is itself.
  const a = Math.PI / 6;
  const corners: [number, number][] = [[-20, -5], [20, -5], [20, 5], [-20, 5]].map(([u, v]) => [100 + u! * Math.cos(a) - v! * Math.sin(a), 50 + u! * Math.sin(a) + v! * Math.cos(a)]);
  const rect = minAreaRect(corners);
  assert.ok(Math.abs(rect.width * rect.height - 400) < 1e-6 && Math.abs(rect.cx - 100) < 1e-6 && Math.abs(rect.cy - 50) < 1e-6);
  const [tl, tr] = rectCorners(rect);
  assert.ok(tl[0] < tr[0], 'corners start at the top-left and go clockwise');

  const box = (x: number, y: number) => ({ points: [[x, y], [x + 10, y], [x + 10, y + 10], [x, y + 10]] as Quad, score: 1 });
  assert.deepEqual(sortReadingOrder([box(50, 3), box(0, 40), box(0, 0)]).map((b) => b.points[0]), [[0, 0], [50, 3], [0, 40]]);

  // Classes: 0 blank, then 'a', 'b', then the space. Repeats merge ("aa" -> "a") unless a blank splits them ("b__b").
  const steps = [1, 1, 0, 2, 3, 2, 0, 0, 2];
  const probs = new Float32Array(steps.length * 4);
  steps.forEach((k, t) => { probs.fill(0.1 / 3, t * 4, t * 4 + 4); probs[t * 4 + k] = 0.9; });
  assert.deepEqual(ctcGreedyDecode(probs, [1, steps.length, 4], ['a', 'b', ' ']).map((r) => [r.text, r.confidence.toFixed(2)]), [['ab bb', '0.90']]);
});
