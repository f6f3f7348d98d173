// Rows from a CSV (header row), JSONL or Parquet (parquet-rows.ts) file, each with its 1-based number and the byte offset just past it, so that
// a resumed run can seek to where its checkpoint stopped instead of reading everything again.
import { createReadStream } from 'node:fs';
import { csvValue, parseCsvRecords } from './csv.ts';
import { readParquetRows } from './parquet-rows.ts';

export type InputFormat = 'csv' | 'jsonl' | 'parquet';

export type InputRow =
  | { row: number; end: number; value: unknown; error?: undefined }
  | { row: number; end: number; value?: undefined; error: string };

export function inputFormatOf(path: string): InputFormat {
  const lower = path.toLowerCase();
  return lower.endsWith('.csv') ? 'csv' : lower.endsWith('.parquet') ? 'parquet' : 'jsonl';
}

/** Reads the CSV header (offset 0); returns the column names and where the data starts. */
async function csvHeader(path: string): Promise<{ columns: string[]; end: number }> {
  let buf = Buffer.alloc(0);
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    buf = Buffer.concat([buf, chunk]);
    const { records } = parseCsvRecords(buf, 0, false);
    if (records[0]) return { columns: records[0].fields.map((f) => f.text), end: records[0].end };
  }
  const { records } = parseCsvRecords(buf, 0, true);
  return records[0] ? { columns: records[0].fields.map((f) => f.text), end: records[0].end } : { columns: [], end: buf.length };
}

/** Rows after `from` (a byte offset; 0 for the start) numbered from `firstRow`. Blank lines are skipped, not rows. */
export async function* readRows(path: string, format: InputFormat, from = 0, firstRow = 1): AsyncGenerator<InputRow> {
  if (format === 'parquet') {
    yield* readParquetRows(path, firstRow);
    return;
  }
  let columns: string[] = [];
  let offset = from;
  if (format === 'csv') {
    const header = await csvHeader(path);
    columns = header.columns;
    offset = Math.max(from, header.end);
  }
  let row = firstRow;
  let buf = Buffer.alloc(0);
  let base = offset; // file offset of buf[0]
  const stream = createReadStream(path, { start: offset, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
  const iterator = stream[Symbol.asyncIterator]();
  for (let done = false; !done; ) {
    const next = await iterator.next();
    done = Boolean(next.done);
    if (next.value) buf = buf.length ? Buffer.concat([buf, next.value]) : next.value;
    let consumed = 0;
    if (format === 'jsonl') {
      for (;;) {
        let nl = buf.indexOf(0x0a, consumed);
        if (nl === -1) { if (!done || consumed >= buf.length) break; nl = buf.length; }
        const line = buf.subarray(consumed, nl).toString('utf8').trim();
        consumed = Math.min(nl + 1, buf.length);
        if (line === '') continue;
        const end = base + consumed;
        try {
          yield { row: row++, end, value: JSON.parse(line) };
        } catch (err) {
          yield { row: row - 1, end, error: `line is not valid JSON: ${(err as Error).message}` };
        }
      }
    } else {
      const { records, rest, unterminated } = parseCsvRecords(buf, 0, done);
      for (const r of records) {
        if (r.fields.length === 1 && r.fields[0]!.text === '' && !r.fields[0]!.quoted) continue;
        const end = base + r.end;
        if (r.fields.length !== columns.length) {
          yield { row: row++, end, error: `the row has ${r.fields.length} fields; the header has ${columns.length}` };
          continue;
        }
        const value: Record<string, unknown> = {};
        r.fields.forEach((f, i) => { if (f.text !== '' || f.quoted) value[columns[i]!] = csvValue(f); });
        yield { row: row++, end, value };
      }
      consumed = rest;
      if (unterminated && done) { yield { row: row++, end: base + buf.length, error: 'a quoted field is never closed' }; consumed = buf.length; }
    }
    base += consumed;
    buf = buf.subarray(consumed);
  }
}
