// The OTLP export worker's entry point. Worker threads do not inherit the parent's tsx loader, so
// register it here before loading the TypeScript worker (as the runner's replicas do).
import { register } from 'tsx/esm/api';

register();
await import('./otlp-worker.ts');
