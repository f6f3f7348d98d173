// tiffin.yaml's `traffic:` section: routes between a model's versions at start (a route persisted by the management
// API wins over the one here), where the route state lives, and the shadow bound. See docs/traffic.md.
import { z } from 'zod';
import { routeSpecSchema } from '../traffic/index.ts';

export const trafficSectionSchema = z.strictObject({
  /** model → { variants: { version: weight }, sticky: header, shadow: { version, rate } } */
  routes: z.record(z.string().min(1), routeSpecSchema).optional(),
  /** Folder of routes.json (relative: to the working directory). Default: traffic/ beside the model store's folder. */
  stateDir: z.string({ error: 'expected the path of a folder' }).min(1).optional(),
  /** false keeps route changes in memory only. Default true. */
  persist: z.boolean({ error: 'expected true or false' }).optional(),
  /** Most shadow copies in flight per model; more are dropped. Default 4. */
  shadowMaxInFlight: z.number().int().min(1).max(10_000).optional(),
});

export type TrafficSection = z.output<typeof trafficSectionSchema>;
