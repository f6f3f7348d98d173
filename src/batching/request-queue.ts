// The dispatcher's waiting room: requests by priority (higher first), first come first served within
// a priority. A request leaves when all its rows were handed to batches, or early (timeout, abort,
// eviction). Removal is lazy (a flag, skipped on the next walk) so that it costs O(1).

/** What the queue needs to know of a request. */
export interface Queued {
  readonly priority: number;
  readonly rows: number;
  readonly key: string;
  readonly enqueuedAt: number;
  /** Rows already handed to batches. */
  taken: number;
  /** False once the request left the queue. */
  queued: boolean;
}

/** Rows [start, start + count) of a request, on their way into one batch. */
export interface Part<T> {
  request: T;
  start: number;
  count: number;
}

interface Bucket<T> {
  priority: number;
  /** Arrival order; a slot is cleared when its request leaves, so the queue never keeps a finished request
   * (and through its promise, the whole request) alive. */
  items: (T | undefined)[];
  head: number;
  live: number;
  rows: number;
}

export class RequestQueue<T extends Queued> {
  /** Buckets by priority, highest first. */
  private buckets: Bucket<T>[] = [];
  private liveCount = 0;
  private rowCount = 0;

  /** Requests waiting (including ones partly handed to batches). */
  get size(): number {
    return this.liveCount;
  }

  /** Rows waiting to be handed to a batch. */
  get rows(): number {
    return this.rowCount;
  }

  push(item: T): void {
    let bucket = this.buckets.find((b) => b.priority === item.priority);
    if (!bucket) {
      bucket = { priority: item.priority, items: [], head: 0, live: 0, rows: 0 };
      this.buckets.push(bucket);
      this.buckets.sort((a, b) => b.priority - a.priority);
    }
    item.queued = true;
    bucket.items.push(item);
    bucket.live++;
    bucket.rows += item.rows - item.taken;
    this.liveCount++;
    this.rowCount += item.rows - item.taken;
  }

  /** Takes the request out of the queue (its untaken rows will never run). */
  remove(item: T): void {
    if (!item.queued) return;
    const bucket = this.buckets.find((b) => b.priority === item.priority)!;
    this.leave(bucket, item);
    const i = bucket.items.indexOf(item, bucket.head);
    if (i >= 0) bucket.items[i] = undefined;
    this.compact(bucket);
  }

  /** Rows waiting at `priority` or above: what a new request of that priority queues behind. */
  rowsAtOrAbove(priority: number): number {
    let rows = 0;
    for (const b of this.buckets) if (b.priority >= priority) rows += b.rows;
    return rows;
  }

  /** When the longest-waiting request arrived. */
  oldestEnqueuedAt(): number | undefined {
    let oldest: number | undefined;
    for (const b of this.buckets) {
      const first = this.first(b);
      if (first && (oldest === undefined || first.enqueuedAt < oldest)) oldest = first.enqueuedAt;
    }
    return oldest;
  }

  /** The newest untouched request of the lowest priority below `priority`: the one to evict for it. */
  evictionCandidate(priority: number): T | undefined {
    for (let i = this.buckets.length - 1; i >= 0; i--) {
      const b = this.buckets[i]!;
      if (b.priority >= priority) return undefined;
      for (let j = b.items.length - 1; j >= b.head; j--) {
        const item = b.items[j];
        if (item?.queued && item.taken === 0) return item;
      }
    }
    return undefined;
  }

  /**
   * Hands up to `maxRows` rows to a new batch, in priority then arrival order, from requests whose key
   * matches the first one's; a request larger than the room left gives only what fits and stays first.
   */
  take(maxRows: number): Part<T>[] {
    const parts: Part<T>[] = [];
    let room = maxRows;
    let key: string | undefined;
    for (const b of [...this.buckets]) {
      for (let i = b.head; i < b.items.length && room > 0; i++) {
        const item = b.items[i];
        if (!item?.queued) continue;
        if (key === undefined) key = item.key;
        else if (item.key !== key) continue;
        const count = Math.min(room, item.rows - item.taken);
        parts.push({ request: item, start: item.taken, count });
        item.taken += count;
        b.rows -= count;
        this.rowCount -= count;
        room -= count;
        if (item.taken === item.rows) {
          this.leave(b, item, false);
          b.items[i] = undefined;
        }
      }
      this.compact(b);
      if (room === 0) break;
    }
    return parts;
  }

  /** Every request still waiting, in no particular order. */
  *all(): IterableIterator<T> {
    for (const b of this.buckets) {
      for (let i = b.head; i < b.items.length; i++) {
        const item = b.items[i];
        if (item?.queued) yield item;
      }
    }
  }

  private first(b: Bucket<T>): T | undefined {
    while (b.head < b.items.length && !b.items[b.head]?.queued) b.items[b.head++] = undefined;
    return b.items[b.head];
  }

  private leave(b: Bucket<T>, item: T, countRows = true): void {
    item.queued = false;
    b.live--;
    this.liveCount--;
    if (countRows) {
      b.rows -= item.rows - item.taken;
      this.rowCount -= item.rows - item.taken;
    }
  }

  /** Drops an empty bucket (callers may use any number of priority levels), and the cleared front of a long one. */
  private compact(b: Bucket<T>): void {
    if (b.live === 0) {
      this.buckets = this.buckets.filter((x) => x !== b);
      return;
    }
    this.first(b);
    if (b.head > 64 && b.head * 2 > b.items.length) {
      b.items = b.items.slice(b.head);
      b.head = 0;
    }
  }
}
