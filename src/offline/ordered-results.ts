// Rows finish out of order (batches, replicas); outputs are written in input order. Finished rows wait here until
// every row before them has finished.
export type RowResult =
  | { row: number; end: number; output: unknown; error?: undefined; skipped?: undefined }
  | { row: number; end: number; error: { code: string; message: string; details?: unknown }; skipped?: undefined }
  /** A row another shard of the job processes (`tiffin run --shard`): it only moves the checkpoint on. */
  | { row: number; end: number; skipped: true; error?: undefined };

export class OrderedResults {
  private readonly waiting = new Map<number, RowResult>();
  constructor(private next: number, private readonly emit: (r: RowResult) => void) {}

  get size(): number {
    return this.waiting.size;
  }

  /** The first row not yet emitted. */
  get nextRow(): number {
    return this.next;
  }

  add(result: RowResult): void {
    this.waiting.set(result.row, result);
    for (let r = this.waiting.get(this.next); r; r = this.waiting.get(this.next)) {
      this.waiting.delete(this.next);
      this.next++;
      this.emit(r);
    }
  }
}
