// A replica worker's entry point. Worker threads do not inherit the parent's tsx loader (neither
// `--import tsx` nor tsx's register()), so register it here before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./replica-worker.ts');
