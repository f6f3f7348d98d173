// `tiffin run <service | bundle> --api <name> --input rows.jsonl|rows.csv`: offline batch inference through the
// service's own APIs, runners and batching (src/offline). Exit 0: every row ok; 4: some rows failed (see the errors
// file); 130: interrupted (resumable); 2: a mistake in the command or input; 1: anything else.
import { Command } from 'commander';
import { openService, runJob, type JobProgress } from '../offline/index.ts';
import { inputFormatOf } from '../offline/input-rows.ts';
import { createLogger } from '../telemetry/index.ts';
import { printJson, reportError } from './output.ts';
import { TiffinError } from '../errors/index.ts';

interface RunFlags { api: string; input: string; output?: string; errors?: string; concurrency: string; restart?: boolean; json?: boolean; shard?: string }

/** `--shard 2/8`: the third of eight shards (indexes from 0, as JOB_COMPLETION_INDEX counts). */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index < count)) {
    throw new TiffinError('BAD_REQUEST', `--shard takes index/count with 0 <= index < count, such as 0/4 (an Indexed Job passes $(JOB_COMPLETION_INDEX)/4), got ${JSON.stringify(text)}`);
  }
  return { index, count };
}

function progressLine(p: JobProgress, t0: number): string {
  const secs = (performance.now() - t0) / 1000;
  const rate = (p.rows - p.resumedAt) / Math.max(secs, 1e-3);
  const ratio = p.inputSize ? p.inputOffset / p.inputSize : 1;
  // ETA from the share of the input read since this run started; a resumed run's rate counts only its own rows.
  const eta = ratio > 0 && ratio < 1 && p.resumedAt === 0 ? `, ETA ${Math.round((secs * (1 - ratio)) / ratio)} s` : '';
  return `${p.rows} rows (${p.ok} ok, ${p.failed} failed), ${rate.toFixed(0)} rows/s, ${(ratio * 100).toFixed(0)}%${eta}`;
}

async function run(target: string, f: RunFlags): Promise<void> {
  const log = createLogger({ level: 'warn', destination: process.stderr });
  const say = (line: string) => process.stderr.write(`tiffin: ${line}\n`);
  const concurrency = Number(f.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency must be a whole number above 0, got ${f.concurrency}`);
  const shard = f.shard !== undefined ? parseShard(f.shard) : undefined;
  const base = f.input.replace(/\.(jsonl|ndjson|csv|parquet)$/i, '');
  const output = f.output ?? (shard ? `${base}.part-${shard.index}-of-${shard.count}.out.jsonl` : `${base}.out.jsonl`);
  const opened = await openService(target, log, (w) => say(`warning: ${w}`));
  let interrupt!: () => void;
  const stop = new Promise<void>((r) => (interrupt = r));
  process.once('SIGINT', () => { say('SIGINT: finishing rows in flight, then writing the checkpoint (again to exit at once)'); interrupt(); process.once('SIGINT', () => process.exit(130)); });
  const t0 = performance.now();
  const tty = Boolean(process.stderr.isTTY) && !f.json;
  let lastLine = 0;
  try {
    const summary = await runJob({
      svc: opened.svc, serviceId: opened.id, api: f.api, input: f.input, inputFormat: inputFormatOf(f.input), output,
      outputFormat: output.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl', errors: f.errors ?? `${output}.errors.jsonl`,
      concurrency, restart: Boolean(f.restart), models: opened.models, services: opened.services, log, stop, ...(shard ? { shard } : {}),
      onProgress: (p) => {
        if (tty) process.stderr.write(`\r${progressLine(p, t0)}   `);
        else if (performance.now() - lastLine > 2000) { lastLine = performance.now(); say(`progress: ${progressLine(p, t0)}`); }
      },
    });
    if (tty) process.stderr.write('\n');
    if (f.json) printJson({ ...summary, output });
    else process.stdout.write(`tiffin: ${summary.interrupted ? 'interrupted' : 'done'}: ${summary.rows} rows, ${summary.ok} ok, ${summary.failed} failed, ${summary.rowsPerSecond.toFixed(0)} rows/s -> ${output}${summary.failed ? ` (errors: ${f.errors ?? `${output}.errors.jsonl`})` : ''}\n`);
    process.exitCode = summary.interrupted ? 130 : summary.failed > 0 ? 4 : 0;
  } finally {
    await opened.close();
  }
}

export function runCommand(): Command {
  return new Command('run')
    .description('offline batch inference: every row of a CSV or JSONL file through an API, outputs in input order, resumable')
    .argument('<service>', 'the service module (./service.ts), or a bundle tag or folder')
    .requiredOption('--api <name>', 'the API to call for each row')
    .requiredOption('--input <file>', 'rows: .csv (header row), .jsonl (one JSON value per line) or .parquet')
    .option('--output <file>', 'outputs: .jsonl ({row, output} per line) or .csv (row, then the flattened output); default <input>.out.jsonl')
    .option('--errors <file>', 'bad rows as {row, code, message} lines (default <output>.errors.jsonl)')
    .option('--concurrency <n>', 'rows in flight at once, so the batcher can form batches', '64')
    .option('--restart', 'ignore an existing checkpoint and start over')
    .option('--shard <i/n>', 'one shard of n: every n-th row from row i+1 (rows count from 1, shards from 0), with its own output and checkpoint (default output <input>.part-i-of-n.out.jsonl)')
    .option('--json', 'print the summary as JSON')
    .action(async (target: string, flags: RunFlags) => {
      try {
        await run(target, flags);
      } catch (err) {
        reportError(err, Boolean(flags.json));
      }
      process.exit(process.exitCode ?? 0);
    });
}
