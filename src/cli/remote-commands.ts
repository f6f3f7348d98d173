// `tiffin <models|bundles> push|pull <tag>` and `list --remote`: the shared store on an S3-compatible bucket, for
// any ArchiveStore. The bucket comes from tiffin.yaml's `remote:` section (-c/--config) and TIFFIN_S3_* variables.
import { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { RemoteStore, type ArchiveStore, type RemoteVersion } from '../remote/index.ts';
import { ProgressBar, humanBytes, labelsText, printJson, relativeTime, reportError, table } from './output.ts';

type Kind = ArchiveStore['kind'];

interface RemoteFlags {
  config?: string;
  json?: boolean;
  force?: boolean;
}

/** The configured remote; REMOTE_NOT_CONFIGURED (naming TIFFIN_S3_BUCKET) when no bucket is set. */
export function remoteFromConfig(configFile?: string): RemoteStore {
  // The SDK's notice that its 2027 releases drop Node 20 is for SDK users, not for people running tiffin.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return RemoteStore.fromConfig(loadConfig({ ...(configFile !== undefined ? { file: configFile } : {}) }).remote);
}

/** Runs `work` with the configured remote, closes it, and turns a failure into one error line and an exit code. */
async function withRemote(flags: RemoteFlags, work: (remote: RemoteStore) => Promise<void>): Promise<void> {
  let remote: RemoteStore | undefined;
  try {
    remote = remoteFromConfig(flags.config);
    await work(remote);
  } catch (err) {
    reportError(err, Boolean(flags.json));
  } finally {
    remote?.close();
  }
}

/** A progress bar on a terminal (nothing in pipes), made once the total is known. */
function progress(label: string, json: boolean | undefined): { update: (done: number, total: number) => void; finish: () => void } {
  let bar: ProgressBar | undefined;
  return {
    update: (done, total) => {
      if (json) return;
      bar ??= new ProgressBar(label, total);
      bar.update(done);
    },
    finish: () => bar?.finish(),
  };
}

function tagOf(r: { name: string; version: string }): string {
  return `${r.name}:${r.version}`;
}

/** Adds `push <tag> [--force]` and `pull <tag> [--force]` to `cmd` (e.g. `tiffin models`), for the store `makeStore` gives. */
export function addRemoteCommands(cmd: Command, makeStore: () => ArchiveStore): Command {
  const noun = (): string => (makeStore().kind === 'models' ? 'model' : 'bundle');
  cmd
    .command('push')
    .description('upload a stored version to the shared bucket (remote.s3 / TIFFIN_S3_BUCKET); refuses one already there')
    .argument('<tag>', 'name (newest version), name:latest or name:version')
    .option('--force', 'replace the version if the bucket already has it')
    .option('-c, --config <file>', 'config file with the remote: section (default ./tiffin.yaml when present)')
    .option('--json', 'print the version record as JSON')
    .action((tag: string, o: RemoteFlags) =>
      withRemote(o, async (remote) => {
        const bar = progress(`push ${tag}`, o.json);
        const record = await remote.push(makeStore(), tag, { force: o.force, onProgress: bar.update });
        bar.finish();
        if (o.json) printJson(record);
        else process.stdout.write(`pushed ${tagOf(record)} to s3://${remote.location.bucket}/${record.archive.key} (${humanBytes(record.archive.bytes)})\n`);
      }),
    );
  cmd
    .command('pull')
    .description(`download a version from the shared bucket and import it, after checking its sha256 and every file digest`)
    .argument('<tag>', 'name or name:latest (the newest version in the bucket), or name:version')
    .option('--force', 'replace the version if the local store already has it')
    .option('-c, --config <file>', 'config file with the remote: section (default ./tiffin.yaml when present)')
    .option('--json', 'print the version record as JSON (with "pulled": false when it was already present)')
    .action((tag: string, o: RemoteFlags) =>
      withRemote(o, async (remote) => {
        const bar = progress(`pull ${tag}`, o.json);
        const result = await remote.pull(makeStore(), tag, { force: o.force, onProgress: bar.update });
        bar.finish();
        if (o.json) printJson(result);
        else if (result.pulled) process.stdout.write(`pulled ${tagOf(result)}\n`);
        else process.stdout.write(`${tagOf(result)} is already in the local ${noun()} store; nothing pulled (pass --force to replace it)\n`);
      }),
    );
  return cmd;
}

/** Prints the bucket's versions of `kind` (a table, or JSON), as `list --remote [name]` does. */
export async function printRemoteList(kind: Kind, name: string | undefined, flags: RemoteFlags & { labels?: Record<string, string> }): Promise<void> {
  await withRemote(flags, async (remote) => {
    const wanted = Object.entries(flags.labels ?? {});
    const list: RemoteVersion[] = (await remote.list(kind, name)).filter((r) => wanted.every(([k, v]) => r.labels[k] === v));
    if (flags.json) return printJson(list);
    if (list.length === 0) {
      process.stdout.write(`no ${kind} found in s3://${remote.location.bucket}/${remote.key(kind)}\n`);
      return;
    }
    const rows = list.map((r) => [tagOf(r), humanBytes(r.size), relativeTime(r.createdAt), labelsText(r.labels)]);
    process.stdout.write(`${table(['tag', 'size', 'created', 'labels'], rows)}\n`);
  });
}
