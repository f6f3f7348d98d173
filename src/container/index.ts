// Owns: turning a bundle folder into a container image: the Dockerfile and .dockerignore, the build context,
// and finding and running a build tool (docker, podman, buildah, nerdctl).
// Knows nothing about: how bundles are built or verified (the caller hands it a checked bundle folder), serving.
export {
  BUNDLE_DIR,
  CONTAINER_TIFFIN_HOME,
  CONTAINER_UID,
  DEFAULT_BASE_IMAGE,
  DEFAULT_GRPC_PORT,
  DEFAULT_HTTP_PORT,
  renderDockerfile,
  renderDockerignore,
  type DockerfileOptions,
} from './dockerfile.ts';
export {
  BACKEND_NAMES,
  assertImageTag,
  buildArgv,
  buildImage,
  findBackend,
  isBackendName,
  type Backend,
  type BackendName,
  type BackendProbe,
  type BuildImageOptions,
  type FindBackendOptions,
} from './backends.ts';
export { REQUIRED_ENTRIES, writeBuildContext } from './context.ts';
