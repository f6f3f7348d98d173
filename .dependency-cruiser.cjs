// The layer rule ARCHITECTURE.md states, enforced by `npm test` (dependency-cruiser): src/ folders in order
// from the bottom up; a folder may import folders below it, never one above it. A strict order also rules
// out cycles between folders; `no-circular` rules out cycles between modules. Tests and test support are exempt
// from the order but library code may never import them. Keep this list and ARCHITECTURE.md's table the same.
const LAYERS = [
  'errors', 'units', 'limits', 'offload', 'auth', 'tls', 'runtime', 'store', 'models', 'onnx', 'batching', 'runner', 'telemetry', 'repository', 'traffic', 'remote',
  'service', 'tasks', 'client', 'protocols', 'remote-runners', 'server', 'config', 'serving', 'container', 'bundle', 'deploy', 'offline', 'cli',
];
const TEST_CODE = '(\\.test\\.ts$|/test-fixtures(\\.ts$|/)|^src/testing/)';

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `${layer}/ may import only the layers below it: ${LAYERS.slice(0, i).join(', ') || 'none'}`,
  severity: 'error',
  from: { path: `^src/${layer}/`, pathNot: TEST_CODE },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'container-imports-only-errors',
      comment: 'container/ turns a bundle folder into an image: it needs only errors/ and node built-ins',
      severity: 'error',
      from: { path: '^src/container/', pathNot: TEST_CODE },
      to: { path: '^src/', pathNot: '^src/(errors|container)/' },
    },
    {
      name: 'no-circular',
      comment: 'modules must not import each other in a cycle',
      severity: 'error',
      from: { path: '^src/', pathNot: TEST_CODE },
      // Type-only imports vanish at run time, so only value imports can form a cycle that matters.
      to: { circular: true, viaOnly: { pathNot: TEST_CODE, dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'no-test-code-in-library',
      comment: 'tests, test fixtures and src/testing are never imported by library code',
      severity: 'error',
      from: { path: '^src/', pathNot: TEST_CODE },
      to: { path: TEST_CODE },
    },
    {
      name: 'only-the-root-index-is-above-all',
      comment: 'src/index.ts is the public API; no module imports it',
      severity: 'error',
      from: { path: '^src/.+/' },
      to: { path: '^src/index\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/.*\\.(js|proto)$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
