// Owns: the API side of runners that run as their own processes (`tiffin serve --role api`): the `runners:` config
// section, gRPC KServe V2 ModelInfer calls to them with deadlines, cancellation, retries and trace context, their readiness.
// Knows nothing about: HTTP servers, services or the CLI (serving/ plugs the loader into a model repository).
export { RUNNERS_ENV, RUNNER_TOKEN_ENV, runnersSectionSchema, type RunnerEndpointsConfig, type RunnersSection } from './config.ts';
export { RemoteRunners, type RemoteRunnersOptions } from './remote-runners.ts';
export { RemoteRunner } from './remote-runner.ts';
