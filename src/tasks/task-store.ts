// The durable task table, in SQLite (better-sqlite3, WAL, synchronous=FULL): every transition is committed before
// the caller acknowledges it, so a crash loses nothing that was answered. Results over `inlineLimit` bytes live
// as files beside the database, written (fsync + rename) before the row that names them.
//
// better-sqlite3 is an optional peer dependency, loaded when a store opens: it is a native addon that builds from
// source where no prebuilt binary is reachable, and services without tasks should not pay for that at install.
import { createRequire } from 'node:module';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { TiffinError } from '../errors/index.ts';
import { canMove, type TaskStatus } from './task-state.ts';

export interface TaskRecord {
  id: string;
  task: string;
  status: TaskStatus;
  /** JSON text of the validated input. */
  input: string;
  attempts: number;
  error: { code: string; message: string } | undefined;
  createdAt: number;
  startedAt: number | undefined;
  finishedAt: number | undefined;
}

interface Row {
  id: string; task: string; status: TaskStatus; input: string; attempts: number;
  error: string | null; result: Buffer | null; result_file: string | null;
  created_at: number; started_at: number | null; finished_at: number | null; seq: number;
}

export interface TaskStoreOptions {
  /** Results larger than this many bytes are stored as files. Default 1 MiB. */
  inlineLimit?: number;
  now?: () => number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  task TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  result BLOB,
  result_file TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (task, status, seq);
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (status, finished_at);
`;

export class TaskStore {
  private readonly db: Database.Database;
  private readonly resultsDir: string;
  private readonly inlineLimit: number;
  private readonly now: () => number;

  constructor(readonly dir: string, options: TaskStoreOptions = {}) {
    mkdirSync(dir, { recursive: true });
    this.resultsDir = join(dir, 'results');
    mkdirSync(this.resultsDir, { recursive: true });
    this.inlineLimit = options.inlineLimit ?? 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.db = new (loadSqlite())(join(dir, 'tasks.db'));
    this.db.pragma('journal_mode = WAL');
    // FULL: a commit survives power loss too, not just a process crash (what submit promises).
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Commits a new pending task and returns it; the row is durable when this returns. */
  submit(task: string, input: unknown): TaskRecord {
    const id = randomUUID();
    this.db.prepare('INSERT INTO tasks (id, task, status, input, created_at) VALUES (?, ?, ?, ?, ?)').run(id, task, 'pending', JSON.stringify(input ?? null), this.now());
    return this.get(id)!;
  }

  get(id: string): TaskRecord | undefined {
    const row = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** The oldest pending tasks of `task` (FIFO), at most `limit`. */
  pending(task: string, limit: number): TaskRecord[] {
    return (this.db.prepare("SELECT * FROM tasks WHERE task = ? AND status = 'pending' ORDER BY seq LIMIT ?").all(task, limit) as Row[]).map(toRecord);
  }

  /** Moves a task, checked against the state machine inside one transaction. Returns the new record, or
   * undefined when the task is not in a state that allows the move (someone else moved it first). */
  transition(id: string, to: TaskStatus, fields: { error?: { code: string; message: string }; result?: unknown } = {}): TaskRecord | undefined {
    const move = this.db.transaction(() => {
      const row = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as Row | undefined;
      if (!row) throw new TiffinError('TASK_NOT_FOUND', `no task with id ${id}`);
      if (!canMove(row.status, to)) return undefined;
      const now = this.now();
      let inline: Buffer | null = null;
      let file: string | null = null;
      if (to === 'done') {
        const bytes = Buffer.from(JSON.stringify(fields.result ?? null));
        if (bytes.length > this.inlineLimit) file = this.writeResultFile(id, bytes);
        else inline = bytes;
      }
      if (to === 'running') {
        this.db.prepare('UPDATE tasks SET status = ?, attempts = attempts + 1, started_at = ?, error = NULL WHERE id = ?').run(to, now, id);
      } else if (to === 'pending') {
        this.db.prepare('UPDATE tasks SET status = ?, finished_at = NULL, error = ?, result = NULL WHERE id = ?').run(to, fields.error ? JSON.stringify(fields.error) : null, id);
      } else {
        this.db.prepare('UPDATE tasks SET status = ?, finished_at = ?, error = ?, result = ?, result_file = ? WHERE id = ?').run(to, now, fields.error ? JSON.stringify(fields.error) : null, inline, file, id);
      }
      return toRecord(this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as Row);
    });
    return move.immediate();
  }

  /** The result of a done task, parsed. */
  result(id: string): unknown {
    const row = this.db.prepare('SELECT result, result_file FROM tasks WHERE id = ?').get(id) as Pick<Row, 'result' | 'result_file'> | undefined;
    if (!row) throw new TiffinError('TASK_NOT_FOUND', `no task with id ${id}`);
    const bytes = row.result_file ? readFileSync(join(this.resultsDir, row.result_file)) : row.result;
    return bytes ? JSON.parse(bytes.toString('utf8')) : null;
  }

  /** Tasks that were running when the process stopped. */
  interrupted(): TaskRecord[] {
    return (this.db.prepare("SELECT * FROM tasks WHERE status = 'running' ORDER BY seq").all() as Row[]).map(toRecord);
  }

  /** Deletes finished tasks (and their result files) that finished before `before`; returns how many. */
  purge(before: number): number {
    const rows = this.db.prepare("SELECT id, result_file FROM tasks WHERE status IN ('done', 'failed', 'cancelled') AND finished_at < ?").all(before) as Pick<Row, 'id' | 'result_file'>[];
    const del = this.db.prepare('DELETE FROM tasks WHERE id = ?');
    this.db.transaction(() => { for (const r of rows) del.run(r.id); })();
    // Files go after their rows: a crash in between leaves an orphan file, never a row without its file.
    for (const r of rows) if (r.result_file) rmSync(join(this.resultsDir, r.result_file), { force: true });
    return rows.length;
  }

  private writeResultFile(id: string, bytes: Buffer): string {
    const name = `${id}.json`;
    const tmp = join(this.resultsDir, `${name}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.resultsDir, name));
    return name;
  }
}

function loadSqlite(): typeof Database {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  } catch (err) {
    throw new TiffinError('TASKS_UNAVAILABLE', `this service declares tasks, whose store needs the better-sqlite3 package: npm install better-sqlite3@12 (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`, { cause: err });
  }
}

function toRecord(row: Row): TaskRecord {
  return {
    id: row.id,
    task: row.task,
    status: row.status,
    input: row.input,
    attempts: row.attempts,
    error: row.error ? (JSON.parse(row.error) as { code: string; message: string }) : undefined,
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
  };
}
