// Owns: the `tiffin` command line. Each command group lives in its own file; this one wires them.
import { Command } from 'commander';
import { Models } from '../models/index.ts';
import { ModelStore } from '../store/index.ts';
import { BundleStore, checkBundle } from '../bundle/index.ts';
import { buildCommand } from './build-command.ts';
import { bundlesCommand } from './bundles-command.ts';
import { containerizeCommand } from './containerize-command.ts';
import { deployCommand } from './deploy-command.ts';
import { modelsCommand } from './models-command.ts';
import { serveCommand } from './serve-command.ts';
import { runCommand } from './run-command.ts';
import { tokensCommand } from './tokens-command.ts';
import { trafficCommand } from './traffic-command.ts';

const program = new Command('tiffin')
  .description('Tiffin: store, serve, batch and ship trained models from TypeScript')
  .version('0.1.0')
  .showHelpAfterError();

let models: Models | undefined;
program.addCommand(modelsCommand(() => (models ??= new Models(new ModelStore()))));
program.addCommand(serveCommand());
program.addCommand(runCommand());
program.addCommand(buildCommand());
let bundles: BundleStore | undefined;
const bundleStore = (): BundleStore => (bundles ??= new BundleStore());
program.addCommand(bundlesCommand(bundleStore));
// An image is built from a bundle checked against its bundle.yaml, never from one altered since it was built.
program.addCommand(containerizeCommand(async (tag) => {
  const bundle = await bundleStore().get(tag);
  await checkBundle(bundle);
  return bundle;
}));
program.addCommand(deployCommand(bundleStore));
program.addCommand(tokensCommand());
program.addCommand(trafficCommand());

await program.parseAsync(process.argv);
