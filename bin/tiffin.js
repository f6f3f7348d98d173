#!/usr/bin/env node
// The `tiffin` command. Tiffin ships TypeScript sources and runs them through tsx,
// which is also what lets `tiffin serve ./service.ts` load user code with no build step.
// Both hooks: a .ts file outside a "type": "module" package (most user projects, and the model store)
// is CommonJS to Node, and only tsx's CommonJS hook can load it.
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

register();
registerCjs();
await import('../src/cli/main.ts');
