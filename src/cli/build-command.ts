// `tiffin build [dir]`: builds the project's service into a new bundle; a line per step, the new tag last.
import { Command } from 'commander';
import { buildBundle } from '../bundle/index.ts';
import { action, printJson } from './output.ts';

export function buildCommand(): Command {
  return new Command('build')
    .description("bundle a project's service (tiffin.yaml), its models and runtime dependencies into an immutable bundle; prints the new tag")
    .argument('[dir]', 'the project folder holding tiffin.yaml (default: the current folder)')
    .option('-c, --config <file>', 'config file, relative to the folder (default tiffin.yaml)')
    .option('--version <version>', 'version of the new bundle (default: generated, sortable by time)')
    .option('--json', 'print the bundle manifest as JSON (and no step lines)')
    .action(
      action(async (dir: string | undefined, o: { config?: string; version?: string; json?: boolean }) => {
        const t0 = performance.now();
        const manifest = await buildBundle({
          ...(dir !== undefined ? { dir } : {}),
          ...(o.config !== undefined ? { config: o.config } : {}),
          ...(o.version !== undefined ? { version: o.version } : {}),
          onStep: o.json ? undefined : (n, total, text) => process.stderr.write(`[${n}/${total}] ${text}\n`),
        });
        if (o.json) return printJson(manifest);
        const models = manifest.models.map((m) => `${m.name}:${m.version}`).join(', ') || 'none';
        process.stderr.write(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${manifest.files.length} files, models ${models}\n`);
        process.stdout.write(`${manifest.name}:${manifest.version}\n`);
      }),
    );
}
