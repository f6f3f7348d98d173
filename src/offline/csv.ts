// A small RFC 4180 CSV reader over bytes: quoted fields may hold commas, quotes ("") and newlines. Works on bytes
// because the delimiters are ASCII and never occur inside a UTF-8 multi-byte sequence, so record offsets stay exact.
const QUOTE = 0x22, COMMA = 0x2c, LF = 0x0a, CR = 0x0d;

export interface CsvRecord {
  fields: { text: string; quoted: boolean }[];
  /** Byte offset just past the record (its line break included). */
  end: number;
}

/** Complete records in `buf` from `start`; `rest` is where an incomplete last record begins (unless `final`). */
export function parseCsvRecords(buf: Buffer, start: number, final: boolean): { records: CsvRecord[]; rest: number; unterminated: boolean } {
  const records: CsvRecord[] = [];
  let i = start;
  let recordStart = start;
  outer: while (i < buf.length) {
    const fields: CsvRecord['fields'] = [];
    for (;;) {
      if (buf[i] === QUOTE) {
        const parts: Buffer[] = [];
        let j = i + 1;
        let segment = j;
        for (;;) {
          if (j >= buf.length) {
            if (!final) break outer;
            return { records, rest: recordStart, unterminated: true };
          }
          if (buf[j] === QUOTE) {
            if (buf[j + 1] === QUOTE) { parts.push(buf.subarray(segment, j + 1)); j += 2; segment = j; continue; }
            if (j + 1 >= buf.length && !final) break outer;
            parts.push(buf.subarray(segment, j));
            j += 1;
            break;
          }
          j++;
        }
        fields.push({ text: Buffer.concat(parts).toString('utf8'), quoted: true });
        i = j;
      } else {
        let j = i;
        while (j < buf.length && buf[j] !== COMMA && buf[j] !== LF && buf[j] !== CR) j++;
        if (j >= buf.length && !final) break outer;
        fields.push({ text: buf.subarray(i, j).toString('utf8'), quoted: false });
        i = j;
      }
      if (i >= buf.length) break;
      if (buf[i] === COMMA) { i++; continue; }
      if (buf[i] === CR) i++;
      if (i >= buf.length && !final) break outer;
      if (buf[i] === LF) i++;
      break;
    }
    records.push({ fields, end: i });
    recordStart = i;
  }
  return { records, rest: recordStart, unterminated: false };
}

const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A cell as a JSON value: unquoted numeric text is a number; `[...]`/`{...}` that parse are JSON (quoted or not,
 * since a JSON array's commas need quotes); the rest, and quoted numbers, are strings. */
export function csvValue(cell: { text: string; quoted: boolean }): unknown {
  const t = cell.text;
  if (!cell.quoted && NUMBER.test(t)) return Number(t);
  if ((t.startsWith('[') && t.endsWith(']')) || (t.startsWith('{') && t.endsWith('}'))) {
    try { return JSON.parse(t); } catch { return t; }
  }
  return t;
}

/** One value as a CSV cell, quoted when it must be; objects and arrays as JSON text. */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const s = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
