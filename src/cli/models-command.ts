// `tiffin models ...`: the model store from the command line. Tables for people, --json for scripts.
import { Command } from 'commander';
import { Models } from '../models/index.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { action, collect, humanBytes, keyValues, labelsText, printJson, relativeTime, table, type JsonFlag } from './output.ts';
import { modelArchiveStore } from '../remote/index.ts';
import { addRemoteCommands, printRemoteList } from './remote-commands.ts';
import { addStoreCommands } from './store-commands.ts';

/** Metadata values are JSON when they parse as JSON (numbers, booleans, arrays), else plain strings. */
function metadataValues(values: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(keyValues(values, '--metadata'))) {
    try {
      out[k] = JSON.parse(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

function tagOf(m: ModelManifest): string {
  return `${m.name}:${m.version}`;
}

function describe(m: ModelManifest): string {
  const lines = [
    `tag:        ${tagOf(m)}`,
    `framework:  ${m.framework} ${m.frameworkVersion}`,
    `created:    ${m.createdAt}`,
    `size:       ${humanBytes(m.size)}`,
    `entry:      ${m.entry}`,
    `labels:     ${labelsText(m.labels) || '-'}`,
    `metadata:   ${Object.keys(m.metadata).length ? JSON.stringify(m.metadata) : '-'}`,
    'signatures:',
  ];
  for (const [method, sig] of Object.entries(m.signatures)) {
    lines.push(`  ${method}${sig.batchable ? ` (batchable on dim ${sig.batchDim})` : ''}`);
    for (const [kind, specs] of [['in ', sig.inputs], ['out', sig.outputs]] as const) {
      for (const s of specs) lines.push(`    ${kind} ${s.name}: ${s.dtype}[${s.shape.join(', ')}]`);
    }
  }
  lines.push('files:');
  for (const f of m.files) lines.push(`  ${f.path}  ${humanBytes(f.size)}  sha256:${f.sha256.slice(0, 16)}…`);
  return lines.join('\n');
}

export function modelsCommand(models: () => Models): Command {
  const cmd = new Command('models').description('save, list, inspect, verify, export and import stored models; push and pull them to a shared bucket');

  cmd
    .command('save')
    .description('validate a model file or folder and store it as a new version; prints the new tag')
    .argument('<tag>', 'name or name:version (a version is generated when omitted)')
    .argument('<path>', 'model file (for example model.onnx) or folder')
    .requiredOption('-f, --framework <name>', 'framework of the model: onnx, custom, xgboost (model.json or .ubj), lightgbm (model.txt), transformers (a Hugging Face model folder) or tfjs (a TensorFlow.js model.json folder)')
    .option('--entry <file>', 'file to load, when the folder holds several')
    .option('-l, --label <key=value>', 'label to attach (repeatable)', collect)
    .option('-m, --metadata <key=value>', 'metadata to attach; JSON values are parsed (repeatable)', collect)
    .option('--batchable', 'allow batching calls along dimension 0')
    .option('--force', 'replace an existing version with the same tag')
    .option('--json', 'print the manifest as JSON')
    .action(
      action(async (tag: string, path: string, o: { framework: string; entry?: string; label?: string[]; metadata?: string[]; batchable?: boolean; force?: boolean; json?: boolean }) => {
        const m = await models().save(tag, path, {
          framework: o.framework,
          entry: o.entry,
          labels: keyValues(o.label, '--label'),
          metadata: metadataValues(o.metadata),
          batchable: o.batchable,
          force: o.force,
        });
        if (o.json) printJson(m);
        else process.stdout.write(`${tagOf(m)}\n`);
      }),
    );

  cmd
    .command('list')
    .alias('ls')
    .description('list stored model versions, newest first (--remote: the versions in the shared bucket)')
    .argument('[name]', 'only versions of this model')
    .option('-l, --label <key=value>', 'only versions with this label (repeatable)', collect)
    .option('--remote', 'list the shared bucket (remote.s3 / TIFFIN_S3_BUCKET) instead of the local store')
    .option('-c, --config <file>', 'config file with the remote: section (default ./tiffin.yaml when present)')
    .option('--json', 'print JSON')
    .action(
      action(async (name: string | undefined, o: { label?: string[]; remote?: boolean; config?: string; json?: boolean }) => {
        if (o.remote) return printRemoteList('models', name, { config: o.config, json: o.json, labels: keyValues(o.label, '--label') });
        const list = await models().list({ name, labels: keyValues(o.label, '--label') });
        if (o.json) return printJson(list);
        if (list.length === 0) {
          process.stdout.write('no models found\n');
          return;
        }
        const rows = list.map((m) => [tagOf(m), m.framework, humanBytes(m.size), relativeTime(m.createdAt), labelsText(m.labels)]);
        process.stdout.write(`${table(['tag', 'framework', 'size', 'created', 'labels'], rows)}\n`);
      }),
    );

  cmd
    .command('get')
    .description("show one version's manifest: signatures, labels, metadata and files")
    .argument('<tag>', 'name (latest), name:latest or name:version')
    .option('--json', 'print JSON')
    .action(
      action(async (tag: string, o: JsonFlag) => {
        const m = await models().get(tag);
        if (o.json) printJson(m);
        else process.stdout.write(`${describe(m)}\n`);
      }),
    );

  addStoreCommands(cmd, () => models().store, 'model');
  addRemoteCommands(cmd, () => modelArchiveStore(models().store));
  return cmd;
}
