// A replica worker's entry point. Worker threads do not inherit the parent's tsx loader (neither
// `--import tsx` nor tsx's register()), so register it here: a stored custom model may be a .ts file.
// Both hooks, as in bin/tiffin.js: a stored custom model's .ts file has no "type": "module" package
// around it, so Node treats it as CommonJS, and only tsx's CommonJS hook can load it.
// The worker itself is replica-worker.ts beside this file in the sources and replica-worker.js in dist/.
import { existsSync } from 'node:fs';
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

register();
registerCjs();
const source = new URL('./replica-worker.ts', import.meta.url);
await import(existsSync(source) ? source.href : new URL('./replica-worker.js', import.meta.url).href);
