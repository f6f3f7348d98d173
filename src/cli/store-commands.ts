// `delete`, `export`, `import` and `verify`: the same four commands for every versioned store (models, bundles),
// over the VersionedStore they share.
import type { Command } from 'commander';
import { TiffinError } from '../errors/index.ts';
import type { VersionedStore, VersionManifest } from '../store/index.ts';
import { parseSize } from '../units/index.ts';
import { action, printJson, table, type JsonFlag } from './output.ts';

function tagOf(m: VersionManifest): string {
  return `${m.name}:${m.version}`;
}

/** Adds the four commands to `cmd`; `noun` (model, bundle) words their help. */
export function addStoreCommands(cmd: Command, store: () => VersionedStore<VersionManifest>, noun: string): Command {
  const extension = (): string => store().archiveExtension;
  cmd
    .command('delete')
    .alias('rm')
    .description(`delete a ${noun} version (or every version of a name with --all)`)
    .argument('<tag>', 'name:version, or a name with --all')
    .option('--all', 'delete every version of the name')
    .option('--json', 'print JSON')
    .action(
      action(async (tag: string, o: { all?: boolean; json?: boolean }) => {
        const target = o.all ? tag : tagOf(await store().describe(tag));
        await store().delete(target, { allVersions: Boolean(o.all) });
        if (o.json) printJson({ deleted: target });
        else process.stdout.write(`deleted ${target}\n`);
      }),
    );

  cmd
    .command('export')
    .description(`write one ${noun} version as an archive (.tiffin${noun})`)
    .argument('<tag>', 'the version to export')
    .argument('[file]', `archive path (default: ./<name>-<version>.tiffin${noun})`)
    .option('--json', 'print JSON')
    .action(
      action(async (tag: string, file: string | undefined, o: JsonFlag) => {
        const m = await store().describe(tag);
        const out = file ?? `${m.name}-${m.version}${extension()}`;
        await store().exportTo(tagOf(m), out);
        if (o.json) printJson({ tag: tagOf(m), file: out });
        else process.stdout.write(`exported ${tagOf(m)} to ${out}\n`);
      }),
    );

  cmd
    .command('import')
    .description(`add a ${noun} version from an archive, after checking every file against its manifest`)
    .argument('<file>', 'the archive')
    .option('--force', 'replace an existing version with the same tag')
    .option('--max-size <size>', 'largest unpacked size to accept, such as 100GiB (default 64GiB)')
    .option('--json', 'print the manifest as JSON')
    .action(
      action(async (file: string, o: { force?: boolean; maxSize?: string; json?: boolean }) => {
        const maxImportBytes = o.maxSize === undefined ? undefined : parseSize(o.maxSize);
        if (maxImportBytes === undefined && o.maxSize !== undefined) throw new TiffinError('BAD_REQUEST', `--max-size takes a size such as 100GiB, got ${JSON.stringify(o.maxSize)}`);
        const m = await store().importFrom(file, { force: o.force, ...(maxImportBytes ? { maxImportBytes } : {}) });
        if (o.json) printJson(m);
        else process.stdout.write(`${tagOf(m)}\n`);
      }),
    );

  cmd
    .command('verify')
    .description(`re-check sizes and sha256 digests of stored ${noun} files; exit 3 when one is damaged`)
    .argument('[tag]', 'one version or name (default: the whole store)')
    .option('--json', 'print JSON')
    .action(
      action(async (tag: string | undefined, o: JsonFlag) => {
        const reports = await store().verify(tag);
        if (o.json) printJson(reports);
        else process.stdout.write(`${table(['tag', 'status', 'problems'], reports.map((r) => [r.tag, r.ok ? 'ok' : 'FAILED', r.problems.join('; ')]))}\n`);
        if (reports.some((r) => !r.ok)) process.exitCode = 3;
      }),
    );
  return cmd;
}
