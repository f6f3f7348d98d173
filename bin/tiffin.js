#!/usr/bin/env node
// The `tiffin` command. Tiffin ships TypeScript sources and runs them through tsx,
// which is also what lets `tiffin serve ./service.ts` load user code with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
