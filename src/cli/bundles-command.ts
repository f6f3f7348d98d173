// `tiffin bundles ...`: the bundle store from the command line, mirroring `tiffin models`.
import { Command } from 'commander';
import type { BundleManifest, BundleStore } from '../bundle/index.ts';
import { versionedArchiveStore } from '../remote/index.ts';
import { action, humanBytes, labelsText, printJson, relativeTime, table, type JsonFlag } from './output.ts';
import { addRemoteCommands, printRemoteList } from './remote-commands.ts';
import { addStoreCommands } from './store-commands.ts';

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

  addStoreCommands(cmd, bundles, 'bundle');
  return addRemoteCommands(cmd, () => versionedArchiveStore('bundles', bundles()));
}
