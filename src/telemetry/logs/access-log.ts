// The access log: one line per request. For Tiffin's own JSON loggers the line is composed directly (the
// same JSON pino would write, field for field) and handed to the logger's destination; at one line per
// request, pino's general path (bindings, hooks, serialisers) costs a measurable share of throughput.
// Pretty loggers and loggers the caller brought go through pino as usual.
import type { Logger } from 'pino';
import { jsonLineFormat } from './logger.ts';

export interface AccessLogLine {
  method: string;
  path: string;
  route: string | undefined;
  status: number;
  latencyMs: number;
  bytes: number | undefined;
  requestId: string;
  traceId: string | undefined;
  variant: string | undefined;
  model: string | undefined;
}

/** `new Date().toISOString()` costs more than the rest of the line: the text up to the seconds is made once a
 * second, and only the milliseconds are formatted per line. */
let isoSecond = -1;
let isoPrefix = '';
function isoNow(): string {
  const ms = Date.now();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20); // 2026-11-30T14:12:33.
  }
  const frac = ms - second * 1000;
  return `${isoPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}

const INFO = 30;
const ERROR = 50;
/** Printable ASCII without `"` or `\\`: such a string is its own JSON body. A loop rather than a regular
 * expression: it is compiled into the line writer, where a regular expression enters the regexp engine for
 * each of the line's strings (in-process A/B in bench/RESULTS.md, "A lead for the next session"). */
function plain(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** A JSON string literal; most values (paths, ids, methods) need no escaping, and testing for that is cheaper. */
function str(value: string): string {
  return plain(value) ? `"${value}"` : JSON.stringify(value);
}

/** Returns the function that writes a request's line: at info, or at error for 5xx. */
export function accessLogWriter(logger: Logger): (line: AccessLogLine) => void {
  const fast = jsonLineFormat(logger);
  if (!fast) {
    return (line) => {
      const fields: Record<string, unknown> = { ...line };
      for (const k of Object.keys(fields)) if (fields[k] === undefined) delete fields[k];
      if (line.status >= 500) logger.error(fields, 'request');
      else logger.info(fields, 'request');
    };
  }
  const { destination, base } = fast;
  const sep = base ? ',' : '';
  return (line) => {
    const error = line.status >= 500;
    // levelVal is read on each call: the level can change while the server runs.
    if (logger.levelVal > (error ? ERROR : INFO)) return;
    let out = `{"level":"${error ? 'error' : 'info'}","time":"${isoNow()}"${sep}${base}`;
    out += `,"method":${str(line.method)},"path":${str(line.path)}`;
    if (line.route !== undefined) out += `,"route":${str(line.route)}`;
    out += `,"status":${line.status},"latencyMs":${line.latencyMs}`;
    if (line.bytes !== undefined) out += `,"bytes":${line.bytes}`;
    out += `,"requestId":${str(line.requestId)}`;
    if (line.traceId !== undefined) out += `,"traceId":"${line.traceId}"`;
    if (line.variant !== undefined) out += `,"variant":${str(line.variant)}`;
    if (line.model !== undefined) out += `,"model":${str(line.model)}`;
    destination.write(`${out},"msg":"request"}\n`);
  };
}
