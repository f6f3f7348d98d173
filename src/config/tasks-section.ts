// tiffin.yaml's `tasks:` section: where the durable task store lives and how long finished tasks are kept
// (src/tasks, docs/tasks.md). TIFFIN_TASKS_DIR sets `tasks.dir`.
import { z } from 'zod';
import { parseDuration, parseSize } from '../units/index.ts';

const duration = z.preprocess(
  (v) => (typeof v === 'string' ? (parseDuration(v) ?? v) : v),
  z.number({ error: 'expected milliseconds, or a duration such as 30s, 24h' }).int().min(0, { error: 'expected a duration of 0 or more' }),
);

export const tasksSectionSchema = z.strictObject({
  /** Folder of tasks.db and large results. Default $TIFFIN_HOME/tasks/<service>. */
  dir: z.string({ error: 'expected the path of a folder' }).min(1).optional(),
  /** Finished tasks (done, failed, cancelled) are deleted this long after they finish. Default 24h. */
  retention: duration.optional(),
  /** Results larger than this are stored as files beside the database. Default 1MiB. */
  inlineResultLimit: z.preprocess((v) => (typeof v === 'string' ? (parseSize(v) ?? v) : v), z.number({ error: 'expected a size such as 1MiB' }).int().positive()).optional(),
});

export const TASKS_ENV_VARS = { TIFFIN_TASKS_DIR: 'tasks.dir' } as const;

export type TasksSection = z.output<typeof tasksSectionSchema>;
