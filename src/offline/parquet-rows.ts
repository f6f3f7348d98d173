// Rows of a Parquet file (hyparquet, pure JavaScript), one row group at a time so that memory holds one group.
// Parquet rows are addressed by index, so a resumed run starts at its next row number; `end` is the share of the
// file's bytes read so far, for progress. Values become what the same row in JSON would hold: 64-bit integers as
// numbers while exact (else decimal strings), dates as ISO strings, bytes as base64, and null cells left out (as
// CSV's empty cells are), so optional fields of the API's schema apply.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { InputRow } from './input-rows.ts';

function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v !== null && typeof v === 'object') return jsonRow(v as Record<string, unknown>);
  return v;
}

function jsonRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(row)) if (row[key] !== null && row[key] !== undefined) out[key] = jsonValue(row[key]);
  return out;
}

async function open(path: string): Promise<{ file: AsyncBuffer; metadata: FileMetaData }> {
  try {
    const file = await asyncBufferFromFile(path);
    return { file, metadata: await parquetMetadataAsync(file) };
  } catch (err) {
    throw new TiffinError('BAD_REQUEST', `${path} is not a Parquet file that can be read: ${messageOf(err)}`, { cause: err });
  }
}

/** Rows from number `firstRow` (1-based) on. */
export async function* readParquetRows(path: string, firstRow = 1): AsyncGenerator<InputRow> {
  const { file, metadata } = await open(path);
  const total = Number(metadata.num_rows);
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    const start = Math.max(groupStart, firstRow - 1);
    if (start < groupEnd) {
      const rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: groupEnd });
      for (let i = 0; i < rows.length; i++) {
        const row = start + i + 1;
        yield { row, end: Math.round((file.byteLength * row) / total), value: jsonRow(rows[i] as Record<string, unknown>) };
      }
    }
    groupStart = groupEnd;
  }
}
