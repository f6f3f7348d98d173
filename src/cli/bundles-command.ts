// `tiffin bundles ...`: the bundle store from the command line, mirroring `tiffin models`.
import { Command } from 'commander';
import { BUNDLE_EXTENSION, type BundleManifest, type BundleStore } from '../bundle/index.ts';
import { TiffinError } from '../errors/index.ts';
import { versionedArchiveStore } from '../remote/index.ts';
import { parseSize } from '../units/index.ts';
import { action, humanBytes, labelsText, printJson, relativeTime, table, type JsonFlag } from './output.ts';
import { addRemoteCommands, printRemoteList } from './remote-commands.ts';

function tagOf(m: BundleManifest): string {
  return `${m.name}:${m.version}`;
}

function describe(m: BundleManifest, dir: string): string {
  const lines = [
    `tag:          ${tagOf(m)}`,
    `created:      ${m.createdAt}`,
    `size:         ${humanBytes(m.size)} in ${m.files.length} files`,
    `folder:       ${dir}`,
    `service:      ${m.service.name} (${m.service.entry}), APIs: ${m.service.apis.join(', ') || '-'}`,
    `tiffin:       ${m.tiffin.version}, node ${m.tiffin.node}`,
    `labels:       ${labelsText(m.labels) || '-'}`,
    `dependencies: ${Object.entries(m.dependencies).map(([k, v]) => `${k}@${v}`).join(', ') || '-'}`,
    `env:          ${Object.keys(m.env).join(', ') || '-'}`,
    `base image:   ${m.container.baseImage ?? '(default)'}`,
    'models:',
    ...m.models.map((p) => `  ${p.ref} -> ${p.name}:${p.version}  sha256:${p.digest.slice(0, 16)}…`),
  ];
  return lines.join('\n');
}

export function bundlesCommand(bundles: () => BundleStore): Command {
  const cmd = new Command('bundles').description('list, inspect, verify, export and import built bundles; push and pull them to a shared bucket');

  cmd
    .command('list')
    .alias('ls')
    .description('list built bundles, newest first (--remote: the ones in the shared bucket)')
    .argument('[name]', 'only versions of this bundle')
    .option('--remote', 'list the shared bucket (remote.s3 / TIFFIN_S3_BUCKET) instead of the local store')
    .option('-c, --config <file>', 'config file with the remote: section (default ./tiffin.yaml when present)')
    .option('--json', 'print JSON')
    .action(
      action(async (name: string | undefined, o: { remote?: boolean; config?: string; json?: boolean }) => {
        if (o.remote) return printRemoteList('bundles', name, { config: o.config, json: o.json, labels: {} });
        const list = await bundles().list({ name });
        if (o.json) return printJson(list);
        if (list.length === 0) {
          process.stdout.write('no bundles found (build one with `tiffin build`)\n');
          return;
        }
        const rows = list.map((m) => [tagOf(m), m.service.name, m.models.map((p) => `${p.name}:${p.version}`).join(','), humanBytes(m.size), relativeTime(m.createdAt), labelsText(m.labels)]);
        process.stdout.write(`${table(['tag', 'service', 'models', 'size', 'created', 'labels'], rows)}\n`);
      }),
    );

  cmd
    .command('get')
    .description("show one bundle's manifest: service, pinned models, dependencies, container options")
    .argument('<tag>', 'name (latest), name:latest or name:version')
    .option('--json', 'print JSON')
    .action(
      action(async (tag: string, o: JsonFlag) => {
        const { manifest, dir } = await bundles().get(tag);
        if (o.json) printJson({ ...manifest, dir });
        else process.stdout.write(`${describe(manifest, dir)}\n`);
      }),
    );

  cmd
    .command('delete')
    .alias('rm')
    .description('delete a bundle version (or every version of a name with --all)')
    .argument('<tag>', 'name:version, or a name with --all')
    .option('--all', 'delete every version of the name')
    .option('--json', 'print JSON')
    .action(
      action(async (tag: string, o: { all?: boolean; json?: boolean }) => {
        const target = o.all ? tag : tagOf((await bundles().get(tag)).manifest);
        await bundles().delete(target, { allVersions: Boolean(o.all) });
        if (o.json) printJson({ deleted: target });
        else process.stdout.write(`deleted ${target}\n`);
      }),
    );

  cmd
    .command('export')
    .description(`write one bundle as a ${BUNDLE_EXTENSION} archive`)
    .argument('<tag>', 'the bundle to export')
    .argument('[file]', `archive path (default: ./<name>-<version>${BUNDLE_EXTENSION})`)
    .option('--json', 'print JSON')
    .action(
      action(async (tag: string, file: string | undefined, o: JsonFlag) => {
        const { manifest } = await bundles().get(tag);
        const out = file ?? `${manifest.name}-${manifest.version}${BUNDLE_EXTENSION}`;
        await bundles().exportTo(tagOf(manifest), out);
        if (o.json) printJson({ tag: tagOf(manifest), file: out });
        else process.stdout.write(`exported ${tagOf(manifest)} to ${out}\n`);
      }),
    );

  cmd
    .command('import')
    .description(`add a bundle from a ${BUNDLE_EXTENSION} archive, after checking every file against its bundle.yaml`)
    .argument('<file>', 'the archive')
    .option('--force', 'replace an existing version with the same tag')
    .option('--max-size <size>', 'largest unpacked size to accept, such as 100GiB (default 64GiB)')
    .option('--json', 'print the manifest as JSON')
    .action(
      action(async (file: string, o: { force?: boolean; maxSize?: string; json?: boolean }) => {
        const maxImportBytes = o.maxSize === undefined ? undefined : parseSize(o.maxSize);
        if (maxImportBytes === undefined && o.maxSize !== undefined) throw new TiffinError('BAD_REQUEST', `--max-size takes a size such as 100GiB, got ${JSON.stringify(o.maxSize)}`);
        const m = await bundles().importFrom(file, { force: o.force, ...(maxImportBytes ? { maxImportBytes } : {}) });
        if (o.json) printJson(m);
        else process.stdout.write(`${tagOf(m)}\n`);
      }),
    );

  cmd
    .command('verify')
    .description('re-check sizes and sha256 digests of the files of built bundles')
    .argument('[tag]', 'one version or name (default: every bundle)')
    .option('--json', 'print JSON')
    .action(
      action(async (tag: string | undefined, o: JsonFlag) => {
        const reports = await bundles().verify(tag);
        if (o.json) printJson(reports);
        else process.stdout.write(`${table(['tag', 'status', 'problems'], reports.map((r) => [r.tag, r.ok ? 'ok' : 'FAILED', r.problems.join('; ')]))}\n`);
        if (reports.some((r) => !r.ok)) process.exitCode = 3;
      }),
    );

  return addRemoteCommands(cmd, () => versionedArchiveStore('bundles', bundles()));
}
