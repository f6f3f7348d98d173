// Owns: test support (never imported by library code): runs `promtool check metrics` (from the Prometheus distribution) on exposition text: the reference
// linter for names, units, types and help. Tests use it to hold every scrape to Prometheus' own rules.
import { spawn } from 'node:child_process';

export interface PromtoolVerdict {
  /** Exit status 0 and nothing printed. */
  ok: boolean;
  code: number | null;
  /** Everything promtool printed: each line a problem. */
  output: string;
}

/** The verdict, or undefined when promtool is not installed. */
export function promtoolCheckMetrics(text: string, command = 'promtool'): Promise<PromtoolVerdict | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(undefined) : reject(err)));
    child.on('close', (code) => resolve({ ok: code === 0 && output.trim() === '', code, output: output.trim() }));
    child.stdin.on('error', () => undefined); // promtool absent: EPIPE; reported through 'error' above
    child.stdin.end(text);
  });
}
