// A replica worker's entry point. Worker threads do not inherit the parent's tsx loader (neither
// `--import tsx` nor tsx's register()), so register it here before loading the TypeScript worker.
// Both hooks, as in bin/tiffin.js: a stored custom model's .ts file has no "type": "module" package
// around it, so Node treats it as CommonJS, and only tsx's CommonJS hook can load it.
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

register();
registerCjs();
await import('./replica-worker.ts');
