// How the CLI talks to people and scripts: aligned tables, JSON, progress bars and error lines.
import { Command } from 'commander';
import { TiffinError, messageOf } from '../errors/index.ts';

/** Renders rows as space-aligned columns under an upper-case header, like kubectl and docker. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function humanBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

/** "3 minutes ago" style times keep tables narrow; --json always has the exact ISO time. */
export function relativeTime(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** A progress bar on stderr, drawn only for a terminal so that pipes and logs stay clean. */
export class ProgressBar {
  private readonly enabled: boolean;
  private last = 0;

  constructor(private readonly label: string, private readonly total: number) {
    this.enabled = Boolean(process.stderr.isTTY) && total > 0;
  }

  update(done: number): void {
    const now = Date.now();
    if (!this.enabled || (now - this.last < 50 && done < this.total)) return;
    this.last = now;
    const width = 30;
    const ratio = Math.min(1, done / this.total);
    const filled = Math.round(ratio * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    process.stderr.write(`\r${this.label} ${bar} ${(ratio * 100).toFixed(0).padStart(3)}% ${humanBytes(done)}/${humanBytes(this.total)}`);
  }

  finish(): void {
    if (!this.enabled) return;
    this.update(this.total);
    process.stderr.write('\n');
  }
}

/** Prints an error for a person (or as JSON for scripts) and sets a non-zero exit code. */
export function reportError(err: unknown, json: boolean): void {
  const body = err instanceof TiffinError ? err.toJSON() : { code: 'INTERNAL', message: messageOf(err) };
  if (json) process.stderr.write(`${JSON.stringify({ error: body })}\n`);
  else process.stderr.write(`error [${body.code}]: ${body.message}\n`);
  process.exitCode = err instanceof TiffinError && err.status < 500 ? 2 : 1;
}

/** Parses repeated `key=value` options into a record. */
export function keyValues(values: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of values ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new TiffinError('BAD_REQUEST', `${what} must look like key=value, got "${kv}"`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export interface JsonFlag {
  json?: boolean;
}

/** Wraps an action so failures print one clear line (or JSON) and set the exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const opts = args.find((a): a is JsonFlag => typeof a === 'object' && a !== null && !(a instanceof Command) && !Array.isArray(a));
    try {
      await fn(...args);
    } catch (err) {
      reportError(err, Boolean(opts?.json));
    }
  };
}

export function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}
