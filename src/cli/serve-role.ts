// `tiffin serve --role`: all (the default: APIs and their models' runners in one process), api (the APIs, with every
// model called on its remote runner found through `runners:` / TIFFIN_RUNNERS) or runner (`--model x`: that one
// model, with the batching its `models:` entry gives, over gRPC KServe V2 for API servers to call).
import type { TiffinConfig } from '../config/index.ts';
import { TiffinError } from '../errors/index.ts';
import { modelConfigFromTag } from '../repository/index.ts';
import type { ModelTags } from '../service/context.ts';
import type { ApiMap, Service } from '../service/service.ts';
import { parseTag } from '../store/tag.ts';

export type ServeRole = { kind: 'all' } | { kind: 'api' } | { kind: 'runner'; model: string };

export function checkRole(flags: { role?: string; model?: string; split?: boolean }): ServeRole {
  const role = flags.role ?? 'all';
  if (role !== 'all' && role !== 'api' && role !== 'runner') throw new TiffinError('BAD_REQUEST', `--role ${role}: expected all, api or runner`);
  if (flags.model !== undefined && role !== 'runner') throw new TiffinError('BAD_REQUEST', '--model names the model a runner serves: use it with --role runner');
  if (role === 'runner') {
    if (!flags.model) throw new TiffinError('BAD_REQUEST', '--role runner serves one model: name it with --model, e.g. --role runner --model iris');
    if (flags.split) throw new TiffinError('BAD_REQUEST', '--split does not apply to --role runner: a runner serves one model, not the service and its dependencies');
    return { kind: 'runner', model: flags.model };
  }
  return { kind: role };
}

/** The one `models:` entry a runner serves: the configured entry of that model (its batching, timeout, versions),
 * or the tag the service names it by. `model` is a model name or a key of the service's models. */
export function runnerModels(config: TiffinConfig, svc: Service<ModelTags, ApiMap> | undefined, model: string): TiffinConfig['models'] {
  const tags: Record<string, string> = svc ? { ...svc.models } : {};
  const tag = tags[model] ?? Object.values(tags).find((t) => parseTag(t).name === model);
  const name = tag !== undefined ? parseTag(tag).name : model;
  const configured = config.models.find((m) => m.name === name);
  if (configured) return [configured];
  if (tag !== undefined) return [modelConfigFromTag(tag)];
  const known = [...Object.entries(tags).map(([k, t]) => `${k} (${t})`), ...config.models.map((m) => m.name)];
  throw new TiffinError('BAD_REQUEST', `--model ${model}: not a model of ${svc ? `service "${svc.name}"` : 'this server'}; it has ${known.length ? known.join(', ') : 'none'}`);
}
