// `tiffin tokens create`: mints a random token with the scopes asked for and prints it once, with the
// tiffin.yaml entry and the environment variable that would configure it. Tiffin keeps no copy.
import { Command } from 'commander';
import { SCOPES, isScope, mintToken, type Scope } from '../auth/index.ts';
import { TiffinError } from '../errors/index.ts';
import { printJson } from './output.ts';

function parseScopes(text: string): Scope[] {
  const scopes = text.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = scopes.filter((s) => !isScope(s));
  if (bad.length || scopes.length === 0) throw new TiffinError('BAD_REQUEST', `unknown scope ${bad.join(', ') || '(none)'}; the scopes are ${SCOPES.join(', ')}`);
  return [...new Set(scopes)] as Scope[];
}

export function tokensCommand(): Command {
  const tokens = new Command('tokens').description('mint access tokens for the inference, management and metrics scopes');
  tokens
    .command('create')
    .description('print a new random token and the configuration that makes a server accept it')
    .requiredOption('-s, --scope <scopes>', `comma-separated scopes: ${SCOPES.join(', ')}`)
    .option('-n, --name <name>', 'what logs and errors call the token', 'token')
    .option('--json', 'print JSON')
    .action((opts: { scope: string; name: string; json?: boolean }) => {
      const scopes = parseScopes(opts.scope);
      const token = mintToken();
      if (opts.json) return printJson({ name: opts.name, token, scopes });
      const yamlEntry = `auth:\n  tokens:\n    - name: ${opts.name}\n      token: ${token}\n      scopes: [${scopes.join(', ')}]`;
      process.stdout.write(`${token}\n\nAdd it to tiffin.yaml (or keep it in a file and use tokenFile: <path>):\n\n${yamlEntry}\n`);
      if (scopes.length === 1) process.stdout.write(`\nor set it in the environment:\n\n  TIFFIN_${scopes[0]!.toUpperCase()}_TOKEN=${token}\n`);
      process.stdout.write('\nClients send it as: Authorization: Bearer <token> (gRPC: authorization metadata).\n');
    });
  return tokens;
}
